"""sprout's Python glue, embedded in sprout-agent.

Runs the AWS Lambda Python handler contract: handler "module.function" called
as function(event, context); event is the JSON-decoded payload (bytes when
the payload is not JSON); the return value is JSON-encoded; an uncaught
exception becomes errorMessage / errorType / stackTrace, as Lambda reports it.
The C++ side calls initialize() in the zygote; load() and warm_up() in the
function snapshot; warm_up() again in each pre-forked sandbox, and invoke()
in each sandbox.
"""
import gc
import importlib
import importlib.util
import json
import os
import sys
import time
import traceback

TASK_ROOT = "/var/task"
_handler = None
_function = {}
_request_id = ""  # of the invocation in progress, for the log lines


def _install_lambda_log_handler(logging):
    """The root logger's handler, as Lambda's Python runtime installs it:
    `[LEVEL]\t2024-01-31T12:00:00.123Z\t<request id>\tmessage` on the
    invocation's log. The root level stays WARNING until the function sets
    it (logging.getLogger().setLevel(logging.INFO)), and logging.basicConfig()
    does nothing, as on Lambda, because the root logger has a handler."""

    class RequestIdFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _request_id
            return True

    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    logging.getLogger().addHandler(handler)


class _LoadedModule:
    """A loader that hands the import system a module already loaded."""

    def __init__(self, module):
        self.module = module
        self.spec = module.__spec__

    def create_module(self, spec):
        return self.module

    def exec_module(self, module):
        module.__spec__ = self.spec  # the import system set ours


class _LambdaLoggingOnImport:
    """Installs Lambda's root handler the moment `logging` is first imported,
    before the importer gets the module: the handler is there before any code
    can log, as on Lambda, and a function that never imports logging does not
    pay for it (its at-fork hooks cost page faults in every sandbox)."""

    def find_spec(self, name, path=None, target=None):
        if name != "logging":
            return None
        sys.meta_path.remove(self)
        module = importlib.import_module("logging")
        _install_lambda_log_handler(module)
        # Out of sys.modules again until the import in progress puts it
        # back: finding it there, the import system would load the module
        # afresh from its original spec.
        del sys.modules[name]
        return importlib.util.spec_from_loader(name, _LoadedModule(module))


class LambdaContext:
    """The `context` argument of a Lambda Python handler."""

    def __init__(self, function, request_id, deadline_ns):
        self.function_name = function["name"]
        self.function_version = function["version"]
        self.invoked_function_arn = "arn:sprout:lambda:local:000000000000:function:%s:%s" % (
            function["name"], function["version"])
        self.memory_limit_in_mb = function["memory_limit_mb"]
        self.aws_request_id = request_id
        self.log_group_name = "/sprout/" + function["name"]
        self.log_stream_name = "%s/%s" % (function["version"], request_id)
        self.identity = None
        self.client_context = None
        self._deadline_ns = deadline_ns

    def get_remaining_time_in_millis(self):
        return max(0, (self._deadline_ns - time.monotonic_ns()) // 1_000_000)


def _error(error_type, exc, trace=None):
    frames = traceback.format_list(traceback.extract_tb(trace)) if trace is not None else []
    return (False, b"", error_type, str(exc), frames)


def initialize(pre_imports):
    # One pipe carries stdout and stderr; line buffering keeps their lines in
    # the order the function wrote them.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)
        except Exception:
            pass
    sys.meta_path.insert(0, _LambdaLoggingOnImport())
    for name in pre_imports:
        importlib.import_module(name)
    # Objects that exist now are never collected, so the collector does not
    # touch (and copy) their pages in every forked child.
    gc.freeze()


def load(handler, function, env, pre_imports):
    """The function's init: import its module once. Returns (ok, type, message, stack)."""
    global _handler, _function
    _function = function
    os.environ.clear()
    os.environ.update(env)
    if TASK_ROOT not in sys.path:
        sys.path.insert(0, TASK_ROOT)
    for name in pre_imports:
        try:
            importlib.import_module(name)
        except Exception as exc:
            return (False, "Runtime.ImportModuleError", "Unable to pre-import '%s': %s" % (name, exc), [])
    module_name, _, function_name = handler.rpartition(".")
    if not module_name or not function_name:
        return (False, "Runtime.MalformedHandlerName",
                "Bad handler '%s': expected module.function" % handler, [])
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        return (False, "Runtime.UserCodeSyntaxError",
                "Syntax error in module '%s': %s" % (module_name, exc),
                traceback.format_exception_only(type(exc), exc))
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return (False, "Runtime.ImportModuleError",
                    "Unable to import module '%s': No module named '%s'" % (module_name, module_name), [])
        ok, _, etype, message, frames = _error("Runtime.ImportModuleError", exc, exc.__traceback__)
        return (False, etype, "Unable to import module '%s': %s" % (module_name, message), frames)
    except Exception as exc:  # module-level code raised: an init error
        ok, _, _, message, frames = _error("", exc, exc.__traceback__)
        return (False, type(exc).__name__, message, frames)
    fn = getattr(module, function_name, None)
    if fn is None:
        return (False, "Runtime.HandlerNotFound",
                "Handler '%s' missing on module '%s'" % (function_name, module_name), [])
    if not callable(fn):
        return (False, "Runtime.HandlerNotFound",
                "Handler '%s' on module '%s' is not callable" % (function_name, module_name), [])
    _handler = fn
    flush()
    gc.freeze()
    return (True, "", "", [])


def invoke(payload, request_id, deadline_ns):
    """Returns (ok, result_bytes, error_type, error_message, stack_trace)."""
    return _run(_handler, payload, request_id, deadline_ns)


def warm_up():
    """Runs the invocation path once with a no-op handler, in a pre-forked
    sandbox before its request arrives: the pages that path writes (reference
    counts of the json, time and context machinery) are copied from the
    snapshot now instead of on the request's critical path."""
    _run(lambda event, context: context.get_remaining_time_in_millis(), b'{"warm": [1]}', "warm-up", 0)


def _run(handler, payload, request_id, deadline_ns):
    global _request_id
    _request_id = request_id
    try:
        event = json.loads(payload) if payload else None
    except ValueError:
        event = payload
    context = LambdaContext(_function, request_id, deadline_ns)
    try:
        result = handler(event, context)
    except Exception as exc:
        return _error(type(exc).__name__, exc, exc.__traceback__.tb_next or exc.__traceback__)
    try:
        body = json.dumps(result).encode()
    except (TypeError, ValueError) as exc:
        return (False, b"", "Runtime.MarshalError",
                "Unable to marshal response: %s" % exc, [])
    return (True, body, "", "", [])


def flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
