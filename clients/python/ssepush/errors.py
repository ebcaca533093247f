"""The errors every call may raise."""

from __future__ import annotations


class PushError(Exception):
    """A call the server refused or could not answer.

    ``status`` is the HTTP status (0 when no answer came) and ``code`` the server's ``error``
    code (``token_expired``, ``bad_request``, ``too_large`` ...) or a client-side code:
    ``connection_failed``, ``timeout``, ``bad_response``.
    """

    def __init__(self, message: str, status: int, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class PushConnectionError(PushError):
    """No answer: connection refused, DNS failure, or the timeout passed. Safe to retry later."""
