"""The transactional outbox: a push written into your own database, inside your own transaction.

ssepush (started with ``OUTBOX_URL``) publishes each committed row exactly once, in id order; a
rolled-back transaction publishes nothing. Create the table with
``ssepush outbox schema mysql|postgres``. Works with any DB-API 2.0 connection (PyMySQL,
mysqlclient, psycopg2/3, Django's ``connection``)::

    from django.db import connection, transaction
    from ssepush import outbox

    with transaction.atomic():
        order.paid = True
        order.save()
        outbox.add(connection, {"to": order.user_id, "event": "order.paid", "data": {"order": order.id}})
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from .client import message_body

_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,57}\Z")


def _is_postgres(conn: Any) -> bool:
    # Django wraps the driver connection; psycopg2/3 modules and connections name themselves.
    vendor = getattr(conn, "vendor", None)
    if isinstance(vendor, str):
        return vendor == "postgresql"
    return "psycopg" in type(conn).__module__


def add(conn: Any, message: Mapping[str, Any], table: str = "ssepush_outbox") -> None:
    """Inserts one push (``data`` and any of ``to``, ``group``, ``event``) on ``conn``.

    Call it inside the transaction that changes your data; nothing is committed here. A row
    ssepush refuses (a bad name, say) goes to ``<table>_dead`` with the reason and never blocks
    the rows after it.
    """
    if not _TABLE.match(table):
        raise ValueError("ssepush: the outbox table name must be 1-58 of [A-Za-z0-9_]")
    try:
        body = json.dumps(message_body(message), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"ssepush: data is not JSON-serializable: {e}") from e
    quoted = f'"{table}"' if _is_postgres(conn) else f"`{table}`"
    cur = conn.cursor()
    try:
        # Every common driver (PyMySQL, mysqlclient, psycopg, Django) takes %s placeholders.
        cur.execute(f"INSERT INTO {quoted} (body) VALUES (%s)", (body,))
    finally:
        cur.close()
