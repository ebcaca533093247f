"""Runs the plain Python snippet of docs/backends.md against the real server, as pasted.

The Django snippets of that section run in a real Django project instead:
test/clients/django-snippets.test.ts.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import unittest
from pathlib import Path
from typing import List

from .support import server

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


class DocsTest(unittest.TestCase):
    def setUp(self) -> None:
        self.url, self.secret = server()
        self.blocks = python_blocks()
        self.saved_env = dict(os.environ)
        os.environ["SSEPUSH_URL"], os.environ["SSEPUSH_SECRET"] = self.url, self.secret

    def tearDown(self) -> None:
        os.environ.clear()
        os.environ.update(self.saved_env)

    def test_the_plain_example_runs_without_errors(self) -> None:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(pick(self.blocks, "push.broadcast("), {})  # noqa: S102 - the documented snippet
        self.assertEqual(out.getvalue(), "", "the example printed an error")


if __name__ == "__main__":
    unittest.main()
