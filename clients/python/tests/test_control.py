"""Kick, revoke, runtime groups, presence paging and exclude against the real server."""

from __future__ import annotations

import time
import unittest

from ssepush import PushClient, PushError, sign_jwt

from .support import Sse, poll, server


class ControlTest(unittest.TestCase):
    def setUp(self) -> None:
        self.url, self.secret = server()
        self.client = PushClient(self.url, secret=self.secret)
        self.streams = []

    def tearDown(self) -> None:
        for s in self.streams:
            s.close()

    def events(self, token: str) -> Sse:
        s = Sse(self.url, token)
        self.streams.append(s)
        s.wait_for_id()
        return s

    def test_disconnect_ends_the_stream_and_revoke_refuses_the_old_token(self) -> None:
        now = int(time.time())
        old = sign_jwt({"sub": "pyc-kicked", "iat": now - 5, "exp": now + 600}, self.secret)
        sse = self.events(old)
        answer = self.client.disconnect("pyc-kicked", reason="banned", reconnect=False, revoke=True)
        self.assertEqual(answer, {"uids": 1, "connections": 1})
        sse.wait_for_events(1)
        self.assertEqual(sse.events[0]["event"], "disconnect")
        self.assertEqual(sse.events[0]["data"], '{"reason":"banned","reconnect":false}')
        self.assertFalse(self.client.is_online("pyc-kicked"))
        status, body = poll(self.url, old)
        self.assertEqual((status, body["error"]), (401, "token_revoked"))

    def test_joined_group_gets_the_group_push_and_leave_stops_it(self) -> None:
        sse = self.events(self.client.subscriber_token("pyc-joiner"))
        self.assertEqual(self.client.join_group("pyc-joiner", "pyc-room"), {"uids": 1, "connections": 1})
        self.assertEqual(self.client.group_counts(["pyc-room"]), {"pyc-room": {"uids": 1, "connections": 1}})
        result = self.client.push_to_group("pyc-room", "hello")
        self.assertEqual(result["delivered"], 1)
        sse.wait_for_events(1)
        self.assertEqual(sse.events[0]["id"], result["id"])
        self.client.leave_group("pyc-joiner", ["pyc-room"])
        self.assertEqual(self.client.push_to_group("pyc-room", "gone")["delivered"], 0)

    def test_exclude_keeps_a_uid_out_of_pushes(self) -> None:
        a = self.events(self.client.subscriber_token("pyc-ex-a", ["pyc-ex"]))
        b = self.events(self.client.subscriber_token("pyc-ex-b", ["pyc-ex"]))
        self.assertEqual(self.client.push_to_group("pyc-ex", 1)["delivered"], 2)
        self.assertEqual(self.client.push_to_group("pyc-ex", 2, exclude="pyc-ex-b")["delivered"], 1)
        self.assertEqual(self.client.send({"group": "pyc-ex", "data": 3, "exclude": ["pyc-ex-a"]})["delivered"], 1)
        self.client.broadcast(4, exclude=["pyc-ex-a", "pyc-ex-b"])
        self.assertEqual(self.client.push(["pyc-ex-a", "pyc-ex-b"], 5, exclude=("pyc-ex-a", "pyc-ex-b"))["delivered"], 0)
        self.assertEqual(self.client.push_to_group("pyc-ex", 6)["delivered"], 2)
        a.wait_for_events(3)
        b.wait_for_events(3)
        self.assertEqual([e["data"] for e in a.events], ["1", "2", "6"])
        self.assertEqual([e["data"] for e in b.events], ["1", "3", "6"])

    def test_online_uids_pages_through_every_uid_once(self) -> None:
        uids = [f"pyc-page-{i}" for i in range(7)]
        for uid in uids:
            self.events(self.client.subscriber_token(uid, ["pyc-pages"]))
        self.assertEqual(list(self.client.online_uids("pyc-pages", page_size=2)), uids)
        everyone = list(self.client.online_uids(page_size=3))
        self.assertEqual(len(everyone), len(set(everyone)))
        self.assertTrue(set(uids) <= set(everyone))

    def test_a_push_only_token_gets_403_on_control_routes(self) -> None:
        push_only = sign_jwt({"scope": "push", "exp": int(time.time()) + 60}, self.secret)
        with self.assertRaises(PushError) as caught:
            PushClient(self.url, token=push_only).disconnect("pyc-nobody")
        self.assertEqual((caught.exception.status, caught.exception.code), (403, "insufficient_scope"))
