# The peers' Python entry point: start fresh, import the handler, call it
# once with the event read from stdin, print the result, as a user without
# sprout would. argv[1]: the handler's directory.
import json
import sys

sys.path.insert(0, sys.argv[1])
import handler  # noqa: E402

data = sys.stdin.buffer.read()
event = json.loads(data) if data else {}
print(json.dumps(handler.handler(event, None)))
