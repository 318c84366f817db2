"""An unmodified AWS Lambda handler: it uses only the standard library and
the documented context object, and runs as it would on Lambda."""
import json
import os
import random
import time

# Module-level code: the init phase, run once per function snapshot.
LOADED_AT = time.time()
COUNTER = {"calls": 0}


def lambda_handler(event, context):
    COUNTER["calls"] += 1
    before = context.get_remaining_time_in_millis()
    time.sleep(0.01)
    after = context.get_remaining_time_in_millis()
    print("handling", context.aws_request_id)
    return {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining_before": before,
        "remaining_after": after,
        "calls_seen": COUNTER["calls"],
        "random": random.random(),
        "event": event,
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
        "env_greeting": os.environ.get("GREETING"),
    }
