def handler(event, context):
    return {"message": "hello"}
