"""The client against a real server (SSEPUSH_URL, SSEPUSH_SECRET). Delivery is checked for real:
a subscriber token the client minted opens /events or /poll, the client pushes, the message
must arrive."""

from __future__ import annotations

import json
import socket
import time
import unittest
import urllib.parse

from ssepush import PushClient, PushConnectionError, PushError, sign_jwt

from .support import Sse, closed_port, poll, request, server


class ClientTest(unittest.TestCase):
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

    def test_push_to_a_uid_arrives_on_its_event_stream(self) -> None:
        sse = self.events(self.client.subscriber_token("py-alice"))
        result = self.client.push("py-alice", {"title": "新订单", "orderId": 1001}, event="order")
        self.assertEqual((result["online"], result["delivered"]), (True, 1))
        sse.wait_for_events(1)
        self.assertEqual(sse.events[0], {"id": result["id"], "event": "order",
                                         "data": '{"title":"新订单","orderId":1001}'})

    def test_push_to_several_uids_and_numeric_uids(self) -> None:
        a = self.events(self.client.subscriber_token(7001))
        b = self.events(self.client.subscriber_token("py-bob"))
        result = self.client.push([7001, "py-bob", "py-nobody"], "hi")
        self.assertEqual(result["delivered"], 2)
        a.wait_for_events(1)
        b.wait_for_events(1)
        self.assertEqual(a.events[0]["data"], '"hi"')
        self.assertEqual(b.events[0]["id"], result["id"])

    def test_push_to_group_reaches_members_only(self) -> None:
        member = self.client.subscriber_token("py-member", groups=["py-room", "other"])
        outsider = self.client.subscriber_token("py-outsider", groups=["other"])
        _, m0 = poll(self.url, member)
        _, o0 = poll(self.url, outsider)
        result = self.client.push_to_group("py-room", {"n": 1}, event="room.msg")
        status, got = poll(self.url, member, m0["cursor"])
        self.assertEqual(status, 200)
        self.assertEqual([(m["id"], m["event"], m["data"]) for m in got["messages"]],
                         [(result["id"], "room.msg", {"n": 1})])
        _, none = poll(self.url, outsider, o0["cursor"], timeout=1)
        self.assertEqual(none["messages"], [])

    def test_broadcast_reaches_everyone(self) -> None:
        sse = self.events(self.client.subscriber_token("py-anyone", ttl=60))
        result = self.client.broadcast({"notice": "maintenance at 22:00"})
        self.assertTrue(result["online"])
        sse.wait_until(lambda s: result["id"] in [e["id"] for e in s.events])

    def test_batch_publishes_in_order_with_one_result_each(self) -> None:
        token = self.client.subscriber_token("py-batch", groups=["py-batch-group"])
        _, first = poll(self.url, token)
        results = self.client.batch([
            {"to": "py-batch", "data": 1},
            {"group": ("py-batch-group",), "data": 2, "event": "g"},
            {"to": "py-someone-else", "data": 3},
        ])
        self.assertEqual(len(results), 3)
        _, got = poll(self.url, token, first["cursor"])
        self.assertEqual([(m["id"], m["event"], m["data"]) for m in got["messages"]],
                         [(results[0]["id"], "message", 1), (results[1]["id"], "g", 2)])

    def test_bad_batch_item_publishes_nothing(self) -> None:
        with self.assertRaises(PushError) as caught:
            self.client.batch([{"to": "x", "data": 1}, {"to": "x", "data": 2, "event": "bad event"}])
        self.assertEqual((caught.exception.status, caught.exception.code), (400, "bad_request"))
        self.assertIn("item 1", str(caught.exception))

    def test_online_counts_connections_per_uid(self) -> None:
        self.events(self.client.subscriber_token("py-here"))
        answer = self.client.online(["py-here", "py-away"])
        self.assertEqual(answer["online"], {"py-here": 1, "py-away": 0})
        self.assertGreaterEqual(answer["uids"], 1)
        self.assertTrue(self.client.is_online("py-here"))
        self.assertFalse(self.client.is_online("py-away"))
        self.assertNotIn("online", self.client.online())

    def test_expired_publisher_token_is_a_401_with_the_server_code(self) -> None:
        expired = sign_jwt({"scope": "push", "exp": int(time.time()) - 60}, self.secret)
        with self.assertRaises(PushError) as caught:
            PushClient(self.url, token=expired).broadcast("x")
        self.assertNotIsInstance(caught.exception, PushConnectionError)
        self.assertEqual((caught.exception.status, caught.exception.code), (401, "token_expired"))

    def test_expired_subscriber_token_is_refused(self) -> None:
        expired = sign_jwt({"sub": "py-late", "exp": int(time.time()) - 60}, self.secret)
        status, body = poll(self.url, expired)
        self.assertEqual((status, body["error"]), (401, "token_expired"))

    def test_wrong_secret_is_a_401(self) -> None:
        with self.assertRaises(PushError) as caught:
            PushClient(self.url, secret="not-the-server-secret").push("x", 1)
        self.assertEqual((caught.exception.status, caught.exception.code), (401, "invalid_token"))

    def test_server_down_fails_fast_with_a_connection_error(self) -> None:
        client = PushClient(f"http://127.0.0.1:{closed_port()}", secret=self.secret, timeout=3)
        started = time.monotonic()
        with self.assertRaises(PushConnectionError) as caught:
            client.push("x", 1)
        self.assertEqual((caught.exception.status, caught.exception.code), (0, "connection_failed"))
        self.assertIn("127.0.0.1", str(caught.exception))
        self.assertLess(time.monotonic() - started, 2.0)

    def test_server_that_never_answers_times_out(self) -> None:
        # Listening but never accepting: the kernel completes the handshake, no answer comes.
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(8)
            port = silent.getsockname()[1]
            client = PushClient(f"http://127.0.0.1:{port}", secret=self.secret, timeout=0.5)
            started = time.monotonic()
            with self.assertRaises(PushConnectionError) as caught:
                client.push("x", 1)
            self.assertEqual(caught.exception.code, "timeout")
            self.assertLess(time.monotonic() - started, 3.0)

    def test_web_msg_sender_style_form_push_still_works(self) -> None:
        token = self.client.subscriber_token("py-legacy")
        _, first = poll(self.url, token)
        publisher = sign_jwt({"scope": "push", "exp": int(time.time()) + 60}, self.secret)
        form = urllib.parse.urlencode({"type": "publish", "to": "py-legacy", "content": "你好", "event": "new_msg"})
        status, result = request(f"{self.url}/push", "POST", {
            "Authorization": f"Bearer {publisher}",
            "Content-Type": "application/x-www-form-urlencoded",
        }, form.encode())
        self.assertEqual(status, 200, json.dumps(result))
        _, got = poll(self.url, token, first["cursor"])
        self.assertEqual((got["messages"][0]["event"], got["messages"][0]["data"]), ("new_msg", "你好"))


if __name__ == "__main__":
    unittest.main()
