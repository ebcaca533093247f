"""Presence reads (scope ``push``) and control calls (scope ``control``) of ``PushClient``."""

from __future__ import annotations

import urllib.parse
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from .errors import PushError

Name = Union[str, int]
Names = Union[Name, Sequence[Name]]


class Control:
    """Mixed into ``PushClient``: kick and revoke uids, change their groups at run time, count
    and list who is online. Control calls travel with a token of scope ``control`` only."""

    def _request(
        self, method: str, path: str, body: Any, idempotency_key: Optional[str] = None, scope: str = "push"
    ) -> Any:
        raise NotImplementedError  # PushClient's

    # -- control (scope "control") ---------------------------------------------------------

    def disconnect(
        self, uid: Names, reason: Optional[str] = None, reconnect: Optional[bool] = None, revoke: bool = False
    ) -> Dict[str, int]:
        """Ends every stream and waiting poll of ``uid`` (or each of up to 1000) on every node;
        the page gets ``event: disconnect`` with ``{reason, reconnect}`` (server defaults:
        ``"disconnected"``, ``True``). ``revoke=True`` also refuses the uid's subscriber tokens
        issued before this call (``401 token_revoked``). Answers ``{"uids", "connections"}``
        that were online."""
        body: Dict[str, Any] = {"uid": _names(uid)}
        if reason is not None:
            body["reason"] = reason
        if reconnect is not None:
            body["reconnect"] = reconnect
        if revoke:
            body["revoke"] = True
        return self._counted("POST", "/disconnect", body)

    def join_group(self, uid: Names, groups: Names) -> Dict[str, int]:
        """Adds ``uid`` (or each of a list) to ``groups`` at run time: live connections,
        reconnects and every node follow."""
        return self.groups(uid, join=groups)

    def leave_group(self, uid: Names, groups: Names) -> Dict[str, int]:
        """Removes ``uid`` (or each of a list) from ``groups`` at run time, token groups included."""
        return self.groups(uid, leave=groups)

    def groups(self, uid: Names, join: Optional[Names] = None, leave: Optional[Names] = None) -> Dict[str, int]:
        """Joins and leaves in one ``POST /groups``; a group may not be in both."""
        if join is None and leave is None:
            raise ValueError("ssepush: groups() needs join or leave")
        body: Dict[str, Any] = {"uid": _names(uid)}
        if join is not None:
            body["join"] = _names(join)
        if leave is not None:
            body["leave"] = _names(leave)
        return self._counted("POST", "/groups", body)

    # -- presence (scope "push") -----------------------------------------------------------

    def online(self, uids: Sequence[Name] = ()) -> Dict[str, Any]:
        """Totals ``{"uids", "connections"}``; with uids also ``"online": {uid: connections}``."""
        return self._counted("GET", _path("/online", [("uid", u) for u in uids]), None)

    def is_online(self, uid: Name) -> bool:
        """Whether ``uid`` has at least one open connection right now."""
        return self.online([uid]).get("online", {}).get(str(uid), 0) > 0

    def group_counts(self, groups: Sequence[Name]) -> Dict[str, Dict[str, int]]:
        """Online uids and connections per group: ``{"room": {"uids": 3, "connections": 5}}``."""
        if not groups:
            return {}
        answer = self._counted("GET", _path("/online", [("group", g) for g in groups]), None)
        if not isinstance(answer.get("groups"), dict):
            raise PushError("ssepush: unexpected answer to GET /online?group=", 200, "bad_response")
        return answer["groups"]

    def online_uids(self, group: Optional[Name] = None, page_size: int = 1000) -> Iterator[str]:
        """Every online uid (or every online member of ``group``), fetched ``page_size`` (1-1000)
        at a time as the loop asks for more; a walk names no uid twice."""
        if not 1 <= page_size <= 1000:
            raise ValueError("ssepush: page_size must be 1-1000")
        cursor: Optional[str] = None
        while True:
            params: List[Tuple[str, Name]] = [("limit", page_size)]
            if group is not None:
                params.append(("group", group))
            if cursor is not None:
                params.append(("cursor", cursor))
            page = self._request("GET", _path("/online/uids", params), None)
            if not isinstance(page, dict) or not isinstance(page.get("uids"), list) or "cursor" not in page:
                raise PushError("ssepush: unexpected answer to GET /online/uids", 200, "bad_response")
            for uid in page["uids"]:
                yield str(uid)
            cursor = page["cursor"] if isinstance(page["cursor"], str) else None
            if cursor is None:
                return

    def _counted(self, method: str, path: str, body: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        answer = self._request(method, path, body, None, "control" if method == "POST" else "push")
        if not isinstance(answer, dict) or not isinstance(answer.get("uids"), int) or "connections" not in answer:
            raise PushError(f"ssepush: unexpected answer to {method} {path.split('?')[0]}", 200, "bad_response")
        return answer


def _path(path: str, params: Sequence[Tuple[str, Name]]) -> str:
    query = urllib.parse.urlencode([(k, str(v)) for k, v in params])
    return f"{path}?{query}" if query else path


def _names(value: Names) -> Union[Name, List[Name]]:
    return value if isinstance(value, (str, int)) else list(value)
