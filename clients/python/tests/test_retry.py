"""Retries with idempotency keys against the real server: a lost answer never doubles a push."""

from __future__ import annotations

import re
import time
import unittest

from ssepush import PushClient, PushConnectionError

from .support import Sse, server


class LosingClient(PushClient):
    """Loses the first ``lose`` answers after the request reached the server."""

    def __init__(self, *args, lose: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lose = lose
        self.keys = []

    def _request(self, method, path, body, idempotency_key=None):
        self.keys.append(idempotency_key)
        answer = super()._request(method, path, body, idempotency_key)
        if self.lose > 0:
            self.lose -= 1
            raise PushConnectionError("ssepush: answer lost (test)", 0, "timeout")
        return answer


class RetryTest(unittest.TestCase):
    def setUp(self) -> None:
        self.url, self.secret = server()
        self.streams = []

    def tearDown(self) -> None:
        for s in self.streams:
            s.close()

    def test_a_retried_push_whose_answer_was_lost_arrives_once_with_the_first_id(self) -> None:
        client = LosingClient(self.url, secret=self.secret, retries=3, retry_delay=0.01, lose=2)
        sse = Sse(self.url, client.subscriber_token("retry-py"))
        self.streams.append(sse)
        sse.wait_for_id()
        result = client.push("retry-py", {"n": 1})
        sse.wait_for_events(1)
        self.assertEqual(sse.events[0]["id"], result["id"])
        self.assertEqual(len(client.keys), 3)
        self.assertRegex(client.keys[0], re.compile(r"^[0-9a-f]{32}$"))
        self.assertEqual(client.keys, [client.keys[0]] * 3)
        time.sleep(0.3)
        client.push("retry-py", {"n": 2})
        self.assertNotEqual(client.keys[-1], client.keys[0])
        sse.wait_for_events(2)
        self.assertEqual([e["data"] for e in sse.events], ['{"n":1}', '{"n":2}'])

    def test_retries_are_off_by_default_and_an_explicit_key_is_sent(self) -> None:
        client = LosingClient(self.url, secret=self.secret, lose=1)
        with self.assertRaises(PushConnectionError):
            client.push("retry-py-2", 1)
        self.assertEqual(client.keys, [None])
        first = client.send({"to": "retry-py-2", "data": 1}, idempotency_key="order-1001-paid")
        again = client.send({"to": "retry-py-2", "data": 1}, idempotency_key="order-1001-paid")
        self.assertEqual(first, again)
        with self.assertRaises(ValueError):
            client.send({"data": 1}, idempotency_key="has space")


if __name__ == "__main__":
    unittest.main()
