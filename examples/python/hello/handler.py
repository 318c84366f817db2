"""The smallest Lambda-style handler."""


def handler(event, context):
    name = event.get("name", "world") if isinstance(event, dict) else "world"
    return {"message": "hello, %s" % name}
