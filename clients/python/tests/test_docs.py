"""Runs the Python and Django snippets of docs/backends.md against the real server, as pasted.

Django itself is replaced by the few names the snippets import (settings, login_required,
JsonResponse, transaction.on_commit); the snippet files are written into a temporary ``myapp``
package so their relative imports work as in a project.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
import types
import unittest
from pathlib import Path
from typing import Dict, List

from .support import poll, server

DOC = Path(__file__).resolve().parents[3] / "docs" / "backends.md"
SECTION = "## Python (`clients/python`) and Django"


def python_blocks() -> List[str]:
    if not DOC.is_file():
        raise unittest.SkipTest("docs/backends.md is not next to this checkout of the client")
    text = DOC.read_text("utf-8")
    start = text.index("\n" + SECTION)
    rest = text[start + len(SECTION) + 1:]
    end = re.search(r"\n## ", rest)
    section = rest[: end.start()] if end else rest
    return re.findall(r"^```python\n(.*?)^```$", section, re.M | re.S)


def pick(blocks: List[str], needle: str) -> str:
    hits = [b for b in blocks if needle in b]
    if len(hits) != 1:
        raise AssertionError(f"expected one snippet containing {needle!r}, got {len(hits)}")
    return hits[0]


class JsonResponse:
    def __init__(self, data: Dict) -> None:
        self.data = data


class DocsTest(unittest.TestCase):
    def setUp(self) -> None:
        self.url, self.secret = server()
        self.blocks = python_blocks()
        self.saved_env = dict(os.environ)
        os.environ["SSEPUSH_URL"], os.environ["SSEPUSH_SECRET"] = self.url, self.secret
        self.saved_modules = dict(sys.modules)
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self) -> None:
        os.environ.clear()
        os.environ.update(self.saved_env)
        for name in set(sys.modules) - set(self.saved_modules):
            del sys.modules[name]
        if self.tmp.name in sys.path:
            sys.path.remove(self.tmp.name)
        self.tmp.cleanup()

    def test_the_plain_example_runs_without_errors(self) -> None:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(pick(self.blocks, "push.broadcast("), {})  # noqa: S102 - the documented snippet
        self.assertEqual(out.getvalue(), "", "the example printed an error")

    def test_the_django_snippets_push_to_the_logged_in_user(self) -> None:
        settings = types.ModuleType("django.conf.settings")
        exec(pick(self.blocks, "SSEPUSH_URL = "), settings.__dict__)  # noqa: S102
        self.install_django(settings)
        app = Path(self.tmp.name) / "myapp"
        app.mkdir()
        (app / "__init__.py").write_text("")
        (app / "push.py").write_text(pick(self.blocks, "lru_cache"))
        (app / "views.py").write_text(pick(self.blocks, "def push_token"))
        sys.path.insert(0, self.tmp.name)
        import myapp.push  # noqa: PLC0415 - written just above
        import myapp.views  # noqa: PLC0415

        request = types.SimpleNamespace(user=types.SimpleNamespace(pk="dj-user"))
        token = myapp.views.push_token(request).data["token"]
        _, first = poll(self.url, token)
        order = types.SimpleNamespace(user_id="dj-user", pk=9)
        code = pick(self.blocks, "on_commit")
        exec(code, {"client": myapp.push.client, "order": order})  # noqa: S102
        _, got = poll(self.url, token, first["cursor"])
        self.assertEqual([(m["event"], m["data"]) for m in got["messages"]], [("order", {"orderId": 9})])

    def install_django(self, settings: types.ModuleType) -> None:
        def module(name: str, **attrs: object) -> None:
            m = types.ModuleType(name)
            m.__dict__.update(attrs)
            sys.modules[name] = m

        module("django")
        module("django.conf", settings=settings)
        module("django.contrib")
        module("django.contrib.auth")
        module("django.contrib.auth.decorators", login_required=lambda view: view)
        module("django.http", JsonResponse=JsonResponse)
        module("django.db", transaction=types.SimpleNamespace(on_commit=lambda fn: fn()))


if __name__ == "__main__":
    unittest.main()
