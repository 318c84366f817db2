# The "plain interpreter" peer: start python3 fresh, import the handler and
# call it once, as a user without sprout would. argv[1]: the handler's directory.
import json
import sys

sys.path.insert(0, sys.argv[1])
import handler  # noqa: E402

print(json.dumps(handler.handler({}, None)))
