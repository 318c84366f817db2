#!/bin/sh
# An exec function: the payload arrives on stdin, the result leaves on stdout.
payload=$(cat)
printf '{"message":"hello from sh","payload":%s}' "${payload:-null}"
