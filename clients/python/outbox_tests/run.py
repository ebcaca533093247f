"""Runs the DB-API snippet of docs/outbox.md against a real database (order id 5).

Driven by test/clients/outbox-sdk.test.ts: OUTBOX_KIND (mysql | postgres), OUTBOX_HOST,
OUTBOX_PORT, OUTBOX_USER, OUTBOX_PASS, OUTBOX_DB, SSEPUSH_UID. The Django snippet runs in a real
Django project instead (test/clients/apps/django/outbox_drive.py).
"""

from __future__ import annotations

import os
import re
import sys
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


def main() -> None:
    conn = connect()
    user_id = os.environ["SSEPUSH_UID"]
    exec(snippet("### Python: any DB-API connection (PyMySQL, mysqlclient, psycopg)"), {"conn": conn, "order_id": 5, "user_id": user_id})
    conn.close()
    print("ok")


if __name__ == "__main__":
    main()
