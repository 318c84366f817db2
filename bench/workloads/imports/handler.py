# A realistic standard-library import set, as a typical Lambda handler has.
import datetime
import decimal
import email
import email.mime.text
import http.client
import json
import re
import sqlite3
import urllib.request
import xml.etree.ElementTree as ElementTree

PATTERN = re.compile(r"(\w+)@(\w+)\.com")


def handler(event, context):
    match = PATTERN.search("mail alice@example.com")
    root = ElementTree.fromstring("<a><b>1</b></a>")
    return {
        "user": match.group(1),
        "total": str(decimal.Decimal("1.10") + decimal.Decimal("2.20")),
        "today": datetime.date(2026, 1, 1).isoformat(),
        "xml": root.find("b").text,
        "sqlite": sqlite3.sqlite_version_info[0],
    }
