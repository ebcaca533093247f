"""Minimal HS256 JSON Web Token signing: all the server needs, with no dependency."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any, Mapping


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def sign_jwt(payload: Mapping[str, Any], secret: str) -> str:
    """Signs ``payload`` with ``secret`` (HMAC-SHA256) as a compact JWT."""
    if not secret:
        raise ValueError("ssepush: the JWT secret must not be empty")
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(dict(payload), separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    signing_input = f"{header}.{body}".encode("ascii")
    signature = hmac.new(secret.encode("utf-8"), signing_input, hashlib.sha256).digest()
    return f"{header}.{body}.{_b64url(signature)}"
