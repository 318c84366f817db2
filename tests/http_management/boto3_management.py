"""The Lambda function-management API through Debian's python3-boto3,
unchanged, against sproutd (tests/http_management/boto3_test.cc runs it).

    boto3_management.py ENDPOINT WORKDIR

Exits 0 when every check held; otherwise prints the failed check.
"""
import io
import json
import sys
import zipfile

import boto3
import botocore.config

endpoint, workdir = sys.argv[1], sys.argv[2]
client = boto3.client(
    "lambda",
    endpoint_url=endpoint,
    region_name="us-east-1",
    config=botocore.config.Config(retries={"max_attempts": 1}),
)
ROLE = "arn:aws:iam::000000000000:role/x"


def zipped(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def check(condition, what):
    if not condition:
        print("boto3 check failed: " + what, file=sys.stderr)
        sys.exit(1)


def expect_error(error_class, call, **kwargs):
    try:
        call(**kwargs)
    except error_class as error:
        return error
    check(False, "expected %s from %s" % (error_class.__name__, call.__name__))


code = zipped({"app.py": "def handler(event, context):\n    return {'sum': event['a'] + event['b']}\n"})
created = client.create_function(FunctionName="adder", Runtime="python3.11", Role=ROLE,
                                 Handler="app.handler", Code={"ZipFile": code},
                                 MemorySize=192, Timeout=5,
                                 Environment={"Variables": {"MODE": "test"}}, Publish=True)
check(created["ResponseMetadata"]["HTTPStatusCode"] == 201, "CreateFunction answers 201")
check(created["FunctionName"] == "adder" and created["MemorySize"] == 192, "created config")
check(created["Environment"]["Variables"] == {"MODE": "test"}, "created environment")
client.get_waiter("function_active_v2").wait(FunctionName="adder")

answer = client.invoke(FunctionName="adder", Payload=json.dumps({"a": 2, "b": 3}))
check(json.loads(answer["Payload"].read()) == {"sum": 5}, "invoke through boto3")

error = expect_error(client.exceptions.ResourceConflictException, client.create_function,
                     FunctionName="adder", Runtime="python3.11", Role=ROLE,
                     Handler="app.handler", Code={"ZipFile": code})
check(error.response["Error"]["Code"] == "ResourceConflictException", "conflict code")
check(error.response["ResponseMetadata"]["HTTPStatusCode"] == 409, "conflict status")

got = client.get_function(FunctionName="adder")
check(got["Configuration"]["Handler"] == "app.handler", "GetFunction's Configuration")
check(got["Code"]["RepositoryType"] == "S3", "GetFunction's Code")

updated = client.update_function_configuration(FunctionName="adder", Timeout=9,
                                               Environment={"Variables": {}})
check(updated["Timeout"] == 9 and updated["Environment"]["Variables"] == {}, "updated config")
client.get_waiter("function_updated_v2").wait(FunctionName="adder")

code2 = zipped({"app.py": "def handler(event, context):\n    return {'product': event['a'] * event['b']}\n"})
client.update_function_code(FunctionName="adder", ZipFile=code2)
answer = client.invoke(FunctionName="adder", Payload=json.dumps({"a": 2, "b": 3}))
check(json.loads(answer["Payload"].read()) == {"product": 6}, "invoke after UpdateFunctionCode")

names = []
for page in client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 1}):
    names += [function["FunctionName"] for function in page["Functions"]]
check(names == ["adder"], "ListFunctions pages: %r" % names)

error = expect_error(client.exceptions.ResourceNotFoundException, client.get_function,
                     FunctionName="nobody")
check("Function not found" in error.response["Error"]["Message"], "not-found message")
expect_error(client.exceptions.InvalidParameterValueException, client.create_function,
             FunctionName="js", Runtime="nodejs20.x", Role=ROLE, Handler="index.handler",
             Code={"ZipFile": code})

# Not a zip at all (the AWS CLI checks this itself; boto3 sends it).
error = expect_error(client.exceptions.InvalidParameterValueException, client.create_function,
                     FunctionName="plain", Runtime="python3.11", Role=ROLE,
                     Handler="app.handler", Code={"ZipFile": b"def handler(e, c): pass\n"})
check("Could not unzip uploaded file" in error.response["Error"]["Message"], "not a zip")
expect_error(client.exceptions.ResourceNotFoundException, client.get_function, FunctionName="plain")

client.delete_function(FunctionName="adder")
expect_error(client.exceptions.ResourceNotFoundException, client.get_function_configuration,
             FunctionName="adder")
expect_error(client.exceptions.ResourceNotFoundException, client.delete_function,
             FunctionName="adder")
print("boto3: every check held")
