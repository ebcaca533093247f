"""The push client: ``POST /push`` and subscriber tokens; presence and control in ``control.py``."""

from __future__ import annotations

import json
import re
import secrets
import socket
import time
import urllib.error
import urllib.request
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from .control import Control
from .errors import PushConnectionError, PushError
from .jwt import sign_jwt

Name = Union[str, int]
Names = Union[Name, Sequence[Name]]

_RENEW_MARGIN = 30
_FIELDS = ("to", "group", "event", "exclude", "data")
_MISSING = object()
_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}\Z")


class PushClient(Control):
    """Publishes to an ssepush server. Give ``secret`` (the server's ``JWT_SECRET``) or ``token``.

    :param base_url: e.g. ``http://127.0.0.1:8080``
    :param secret: signs publisher tokens (unless ``publisher_secret``) and subscriber tokens
    :param publisher_secret: the server's ``PUBLISHER_JWT_SECRET``, when it has one
    :param token: a ready publisher token instead of signing one (used for every call; give it
        scope ``push control`` to use the control calls too). Tokens the client signs carry scope
        ``push``; ``disconnect``, ``join_group``, ``leave_group`` and ``groups`` sign a separate
        one with scope ``control``, so a push never travels with control rights.
    :param issuer: the server's ``JWT_ISSUER``, put in minted tokens as ``iss``
    :param audience: the server's ``JWT_AUDIENCE``, put in minted tokens as ``aud``
    :param timeout: seconds to connect and for each read, default 5
    :param publisher_ttl: lifetime of self-signed publisher tokens in seconds, default 300
    :param retries: extra attempts of a push after a timeout, a lost connection or a 503,
        default 0 (off). Each push then carries a fresh ``Idempotency-Key`` that its retries
        reuse, so a retry whose first attempt did arrive publishes nothing and answers the first
        answer (same id).
    :param retry_delay: seconds before the first retry, default 0.2; doubled each time, at most 2
    """

    def __init__(
        self,
        base_url: str,
        secret: Optional[str] = None,
        *,
        publisher_secret: Optional[str] = None,
        token: Optional[str] = None,
        issuer: Optional[str] = None,
        audience: Optional[str] = None,
        timeout: float = 5.0,
        publisher_ttl: int = 300,
        retries: int = 0,
        retry_delay: float = 0.2,
    ) -> None:
        if not re.match(r"^https?://", base_url, re.IGNORECASE):
            raise ValueError("ssepush: base_url must start with http:// or https://")
        if not (secret or publisher_secret or token):
            raise ValueError("ssepush: give secret (the server's JWT_SECRET) or a publisher token")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._secret = secret
        self._publisher_secret = publisher_secret or secret
        self._token = token
        self._issuer = issuer
        self._audience = audience
        self._publisher_ttl = publisher_ttl
        self._cached: Dict[str, Tuple[str, float]] = {}  # scope -> (token, renew at)
        self.retries = max(0, int(retries))
        self.retry_delay = retry_delay

    # -- pushing ---------------------------------------------------------------------------

    def push(self, to: Names, data: Any, event: str = "message", exclude: Optional[Names] = None) -> Dict[str, Any]:
        """Pushes ``data`` (any JSON value) to one uid or a list of uids; ``exclude``: uids
        whose connections skip it (every push method takes it).

        Returns the server's answer ``{"id": str, "online": bool, "delivered": int}``.
        """
        return self.send({"to": to, "data": data, "event": event, "exclude": exclude})

    def push_to_group(
        self, group: Names, data: Any, event: str = "message", exclude: Optional[Names] = None
    ) -> Dict[str, Any]:
        """Pushes ``data`` to every connection whose token names the group (or one of them)."""
        return self.send({"group": group, "data": data, "event": event, "exclude": exclude})

    def broadcast(self, data: Any, event: str = "message", exclude: Optional[Names] = None) -> Dict[str, Any]:
        """Pushes ``data`` to every connection."""
        return self.send({"data": data, "event": event, "exclude": exclude})

    def send(self, message: Mapping[str, Any], idempotency_key: Optional[str] = None) -> Dict[str, Any]:
        """Pushes one message given as a mapping with ``data`` and any of ``to``, ``group``,
        ``event``, ``exclude``.

        ``idempotency_key`` (1-128 of ``[A-Za-z0-9._:-]``, e.g. ``"order-1001-paid"``) makes the
        push safe to repeat: the server publishes it once and answers every repeat alike.
        """
        answer = self._push(_message(message), idempotency_key)
        if not _is_result(answer):
            raise PushError("ssepush: unexpected answer to POST /push", 200, "bad_response")
        return answer

    def batch(
        self, messages: Iterable[Mapping[str, Any]], idempotency_key: Optional[str] = None
    ) -> List[Dict[str, Any]]:
        """Publishes 1-1000 messages in one request, all or none; one result per message."""
        items = [_message(m) for m in messages]
        answer = self._push(items, idempotency_key)
        if not isinstance(answer, list) or len(answer) != len(items) or not all(map(_is_result, answer)):
            raise PushError("ssepush: unexpected answer to a batch POST /push", 200, "bad_response")
        return answer

    # -- tokens ----------------------------------------------------------------------------

    def subscriber_token(self, uid: Name, groups: Sequence[Name] = (), ttl: int = 3600) -> str:
        """A subscriber token for the page (``/events?token=...`` or ssepush.js).

        ``uid`` becomes the token's ``sub``; ``groups`` decide which ``push_to_group`` calls it
        receives; the stream closes after ``ttl`` seconds and the page reconnects with a new one.
        """
        if not self._secret:
            raise RuntimeError("ssepush: subscriber_token() needs the secret")
        if ttl <= 0:
            raise ValueError("ssepush: ttl must be > 0 seconds")
        payload: Dict[str, Any] = {"sub": str(uid), **self._claims(ttl)}
        if groups:
            payload["groups"] = [str(g) for g in groups]
        return sign_jwt(payload, self._secret)

    def _claims(self, ttl: int) -> Dict[str, Any]:
        now = int(time.time())
        claims: Dict[str, Any] = {"iat": now, "exp": now + ttl}
        if self._issuer:
            claims["iss"] = self._issuer
        if self._audience:
            claims["aud"] = self._audience
        return claims

    def _publisher_token(self, scope: str = "push") -> str:
        """The ``token`` option, or one signed for ``scope`` (``push`` or ``control``), cached
        until shortly before it expires."""
        if self._token:
            return self._token
        now = time.time()
        cached = self._cached.get(scope)
        if cached is None or now >= cached[1]:
            assert self._publisher_secret is not None
            claims = {"scope": scope, **self._claims(self._publisher_ttl)}
            cached = (sign_jwt(claims, self._publisher_secret), now + max(1, self._publisher_ttl - _RENEW_MARGIN))
            self._cached[scope] = cached
        return cached[0]

    # -- HTTP ------------------------------------------------------------------------------

    def _push(self, body: Any, key: Optional[str]) -> Any:
        """POST /push with the given key, or a fresh one when retries are on; retried on no
        answer and on 503, always with the same key."""
        if key is not None and not _KEY.match(key):
            raise ValueError("ssepush: an idempotency key is 1-128 of [A-Za-z0-9._:-]")
        if key is None and self.retries > 0:
            key = secrets.token_hex(16)
        attempt = 0
        while True:
            try:
                return self._request("POST", "/push", body, key)
            except PushError as e:
                again = isinstance(e, PushConnectionError) or e.status == 503
                if not again or attempt >= self.retries:
                    raise
            time.sleep(min(2.0, self.retry_delay * (2**attempt)))
            attempt += 1

    def _request(
        self, method: str, path: str, body: Any, idempotency_key: Optional[str] = None, scope: str = "push"
    ) -> Any:
        url = self.base_url + path
        headers = {"Authorization": f"Bearer {self._publisher_token(scope)}", "Accept": "application/json"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            try:
                data = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
            except (TypeError, ValueError) as e:
                raise ValueError(f"ssepush: data is not JSON-serializable: {e}") from e
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:
                status, text = res.status, res.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
            e.close()
        except urllib.error.URLError as e:
            code = "timeout" if isinstance(e.reason, (socket.timeout, TimeoutError)) else "connection_failed"
            raise PushConnectionError(f"ssepush: {method} {url} failed: {e.reason}", 0, code) from e
        except (socket.timeout, TimeoutError) as e:
            raise PushConnectionError(f"ssepush: {method} {url} timed out after {self.timeout}s", 0, "timeout") from e
        except OSError as e:
            raise PushConnectionError(f"ssepush: {method} {url} failed: {e}", 0, "connection_failed") from e
        try:
            answer = json.loads(text)
        except ValueError:
            raise PushError(f"ssepush: HTTP {status} with a body that is not JSON", status, "bad_response") from None
        if status < 200 or status >= 300:
            err = answer if isinstance(answer, dict) else {}
            code = err.get("error") if isinstance(err.get("error"), str) else "http_error"
            why = err.get("message") if isinstance(err.get("message"), str) else f"HTTP {status}"
            raise PushError(f"ssepush: {why} (HTTP {status} {code})", status, code)
        return answer


def message_body(message: Mapping[str, Any]) -> Dict[str, Any]:
    """The JSON body of one push, unset fields dropped (shared with ``ssepush.outbox``)."""
    return _message(message)


def _message(message: Mapping[str, Any]) -> Dict[str, Any]:
    unknown = set(message) - set(_FIELDS)
    if unknown:
        raise ValueError(f"ssepush: unknown message field(s): {', '.join(sorted(unknown))}")
    if "data" not in message:
        raise ValueError('ssepush: a message needs "data"')
    out: Dict[str, Any] = {}
    for key in _FIELDS:
        value = message.get(key, _MISSING)
        if value is _MISSING or (value is None and key != "data"):
            continue
        if key in ("to", "group", "exclude") and isinstance(value, (list, tuple, set, frozenset)):
            value = list(value)
        out[key] = value
    return out


def _is_result(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("id"), str)
        and isinstance(value.get("online"), bool)
        and isinstance(value.get("delivered"), int)
    )
