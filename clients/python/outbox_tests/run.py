"""Runs the Python snippets of docs/outbox.md (DB-API, Django) against a real database.

Driven by test/clients/outbox-sdk.test.ts: OUTBOX_KIND (mysql | postgres), OUTBOX_HOST,
OUTBOX_PORT, OUTBOX_USER, OUTBOX_PASS, OUTBOX_DB, SSEPUSH_UID. Django's ``connection`` and
``transaction.atomic`` are the smallest stand-ins over one real DB-API connection.
Order ids: 5 DB-API, 6 rolled back (Django, exception), 7 Django.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "clients" / "python"))


def snippet(heading: str) -> str:
    doc = (ROOT / "docs" / "outbox.md").read_text()
    at = doc.index(f"\n{heading}\n")
    m = re.compile(r"```python\n(.*?)```", re.S).search(doc, at)
    assert m, heading
    return m.group(1)


def connect():
    env = os.environ
    args = dict(host=env["OUTBOX_HOST"], port=int(env["OUTBOX_PORT"]), user=env["OUTBOX_USER"], password=env["OUTBOX_PASS"])
    if env["OUTBOX_KIND"] == "postgres":
        import psycopg2

        return psycopg2.connect(dbname=env["OUTBOX_DB"], **args)
    import pymysql

    return pymysql.connect(database=env["OUTBOX_DB"], **args)


class DjangoConnection:
    """What ``django.db.connection`` offers the snippet: vendor and cursor()."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.vendor = "postgresql" if os.environ["OUTBOX_KIND"] == "postgres" else "mysql"

    def cursor(self):
        return self.conn.cursor()


def install_django(conn) -> None:
    connection = DjangoConnection(conn)

    @contextlib.contextmanager
    def atomic():
        try:
            yield
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    django = types.ModuleType("django")
    db = types.ModuleType("django.db")
    db.connection = connection
    db.transaction = types.SimpleNamespace(atomic=atomic)
    django.db = db
    sys.modules["django"] = django
    sys.modules["django.db"] = db


def main() -> None:
    conn = connect()
    install_django(conn)
    user_id = os.environ["SSEPUSH_UID"]
    exec(snippet("### Python: any DB-API connection (PyMySQL, mysqlclient, psycopg)"), {"conn": conn, "order_id": 5, "user_id": user_id})
    django_code = snippet("### Django")
    try:
        exec(django_code + "\n    raise RuntimeError('rolled back')\n", {"order_id": 6, "user_id": user_id})
    except RuntimeError:
        pass
    exec(django_code, {"order_id": 7, "user_id": user_id})
    conn.close()
    print("ok")


if __name__ == "__main__":
    main()
