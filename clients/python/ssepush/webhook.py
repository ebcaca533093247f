"""Verify ssepush presence webhooks (``WEBHOOK_URL``), standard library only.

::

    from ssepush.webhook import verify, WebhookError

    events = verify(request.body, request.headers.get("SsePush-Signature"), secret)
    for e in events:  # {"id", "type": "online" | "offline", "uid", "time" (ms)}
        ...
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from typing import Any, List, Optional, Union

DEFAULT_TOLERANCE_SECONDS = 300


class WebhookError(Exception):
    """A webhook request that must not be trusted; the message says why. Answer it with 400."""


def verify(
    raw_body: Union[bytes, str],
    signature_header: Optional[str],
    secret: str,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: Optional[int] = None,
) -> List[Any]:
    """Returns the events of a genuine request, or raises WebhookError.

    Pass the raw body exactly as received. The header is ``t=<unix seconds>,v1=<hex
    HMAC-SHA256 of "<t>.<raw body>">``; a timestamp outside ``tolerance_seconds`` is refused
    (a recorded request cannot be replayed). Deliveries are at least once: dedupe by ``id``.
    """
    if not secret:
        raise WebhookError("the webhook secret is empty")
    if not signature_header:
        raise WebhookError("missing SsePush-Signature header")
    body = raw_body.encode("utf-8") if isinstance(raw_body, str) else raw_body
    t = None
    sigs = []
    for part in signature_header.split(","):
        k, _, v = part.strip().partition("=")
        if k == "t" and re.fullmatch(r"\d{1,12}", v):
            t = int(v)
        elif k == "v1" and re.fullmatch(r"[0-9a-f]{64}", v):
            sigs.append(v)
    if t is None or not sigs:
        raise WebhookError("malformed SsePush-Signature header")
    if abs((int(time.time()) if now is None else now) - t) > tolerance_seconds:
        raise WebhookError("timestamp outside the tolerance (replayed or clock skew)")
    expected = hmac.new(secret.encode("utf-8"), str(t).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, s) for s in sigs):
        raise WebhookError("signature mismatch (is WEBHOOK_SECRET the same on both sides?)")
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise WebhookError("body is not JSON") from e
    events = parsed.get("events") if isinstance(parsed, dict) else None
    if not isinstance(events, list):
        raise WebhookError("body has no events array")
    return events
