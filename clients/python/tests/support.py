"""Test helpers independent of the library under test: a raw SSE reader and GET /poll."""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, List, Optional, Tuple


def server() -> Tuple[str, str]:
    """SSEPUSH_URL and SSEPUSH_SECRET, set by the test run (test/clients/python.test.ts)."""
    url, secret = os.environ.get("SSEPUSH_URL", ""), os.environ.get("SSEPUSH_SECRET", "")
    if not url or not secret:
        raise unittest.SkipTest("set SSEPUSH_URL and SSEPUSH_SECRET to a running server (npm test does)")
    return url, secret


class Sse:
    """Reads /events like a browser would: fields, comments and bare ``id:`` blocks."""

    def __init__(self, base_url: str, token: str) -> None:
        u = urllib.parse.urlsplit(base_url)
        self.conn = http.client.HTTPConnection(u.hostname or "127.0.0.1", u.port or 80, timeout=5)
        self.conn.request("GET", "/events?" + urllib.parse.urlencode({"token": token}),
                          headers={"Accept": "text/event-stream"})
        self.sock = self.conn.sock  # kept: the connection lets go of it once the response owns it
        self.res = self.conn.getresponse()
        if self.res.status != 200:
            raise AssertionError(f"GET /events answered {self.res.status}: {self.res.read()!r}")
        self.last_id: Optional[str] = None
        self.events: List[Dict[str, Any]] = []
        self._block: Dict[str, Any] = {"data": []}

    def wait_until(self, until: Callable[["Sse"], bool], seconds: float = 5.0) -> None:
        deadline = time.monotonic() + seconds
        while not until(self):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out; events so far: {self.events}")
            self.sock.settimeout(left)
            try:
                line = self.res.readline()
            except socket.timeout:
                raise AssertionError(f"timed out; events so far: {self.events}") from None
            if not line:
                raise AssertionError(f"stream closed; events so far: {self.events}")
            self._line(line.decode("utf-8").rstrip("\r\n"))

    def wait_for_events(self, n: int, seconds: float = 5.0) -> None:
        self.wait_until(lambda s: len(s.events) >= n, seconds)

    def wait_for_id(self, seconds: float = 5.0) -> str:
        self.wait_until(lambda s: s.last_id is not None, seconds)
        return str(self.last_id)

    def _line(self, line: str) -> None:
        if line == "":
            block, self._block = self._block, {"data": []}
            if "id" in block:
                self.last_id = block["id"]
            if block["data"]:
                self.events.append(
                    {"id": self.last_id, "event": block.get("event", "message"), "data": "\n".join(block["data"])}
                )
            return
        if line.startswith(":"):
            return
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._block["data"].append(value)
        elif field in ("event", "id"):
            self._block[field] = value

    def close(self) -> None:
        self.res.close()
        self.conn.close()


def request(url: str, method: str = "GET", headers: Optional[Dict[str, str]] = None,
         body: Optional[bytes] = None, timeout: float = 5.0) -> Tuple[int, Any]:
    req = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.loads(e.read())


def poll(base_url: str, token: str, cursor: Optional[str] = None, timeout: int = 2) -> Tuple[int, Any]:
    query: Dict[str, Any] = {"token": token, "timeout": timeout}
    if cursor is not None:
        query["cursor"] = cursor
    return request(f"{base_url}/poll?{urllib.parse.urlencode(query)}", timeout=timeout + 3)


def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
