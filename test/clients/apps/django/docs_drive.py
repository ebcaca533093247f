"""Drives docs/backends.md's Django snippets inside the real project (written into it by
test/clients/django-snippets.test.ts), through Django's own middleware, auth and transactions.
Run from the project directory:
  python3 docs_drive.py token     migrates (SQLite), creates a user, GETs /push/token without a
                                  login and logged in; prints {"anonymous", "status", "uid", "token"}
  python3 docs_drive.py push UID  runs the doc's on_commit line for order 8 in a transaction that
                                  rolls back, then for order 9 in one that commits; prints "ok"
"""

import json
import os
import sys
import types
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test import Client  # noqa: E402

if sys.argv[1] == "token":
    call_command("migrate", verbosity=0)
    user = User.objects.create_user("buyer")
    http = Client()
    anonymous = http.get("/push/token").status_code
    http.force_login(user)
    res = http.get("/push/token")
    print(json.dumps({"anonymous": anonymous, "status": res.status_code, "uid": str(user.pk), **res.json()}))
else:
    from myapp.push import client

    code = Path(__file__).with_name("on_commit.py").read_text()
    try:
        with transaction.atomic():
            exec(code, {"client": client, "order": types.SimpleNamespace(user_id=sys.argv[2], pk=8)})  # noqa: S102
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    with transaction.atomic():
        exec(code, {"client": client, "order": types.SimpleNamespace(user_id=sys.argv[2], pk=9)})  # noqa: S102
    print("ok")
