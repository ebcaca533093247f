"""Runs docs/outbox.md's Django block (outbox_snippet.py) inside the real project, on its real
database connection and ``transaction.atomic``: once rolled back by an exception raised inside the
block (order 6), once committed (order 7). Run from the project directory:
``python3 outbox_drive.py UID``. Driven by test/clients/outbox-sdk.test.ts.
"""

import os
import sys
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
django.setup()

code = Path(__file__).with_name("outbox_snippet.py").read_text()
user_id = sys.argv[1]
try:
    exec(code + "\n    raise RuntimeError('rolled back')\n", {"order_id": 6, "user_id": user_id})  # noqa: S102
except RuntimeError:
    pass
exec(code, {"order_id": 7, "user_id": user_id})  # noqa: S102
print("ok")
