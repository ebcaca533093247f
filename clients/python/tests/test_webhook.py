"""ssepush.webhook.verify against a vector signed by the server's own signer."""

from __future__ import annotations

import unittest

from ssepush.webhook import WebhookError, verify

BODY = b'{"events":[{"id":"e1","type":"online","uid":"42","time":1700000000000}]}'
SIG = "t=1700000000,v1=22517af58a26b28ce3a77a67aab0c609f1b3f0eec95ce1f381fde12475f52690"


class WebhookTest(unittest.TestCase):
    def test_accepts_the_servers_signature(self) -> None:
        events = verify(BODY, SIG, "whsec-test", now=1700000100)
        self.assertEqual(events, [{"id": "e1", "type": "online", "uid": "42", "time": 1700000000000}])
        self.assertEqual(verify(BODY.decode(), SIG, "whsec-test", now=1700000000), events)

    def test_refuses(self) -> None:
        cases = [
            (BODY.replace(b"42", b"43"), SIG, "whsec-test", 1700000000, "mismatch"),
            (BODY, SIG, "other", 1700000000, "mismatch"),
            (BODY, SIG, "whsec-test", 1700000301, "tolerance"),
            (BODY, None, "whsec-test", 1700000000, "missing"),
            (BODY, "t=1700000000", "whsec-test", 1700000000, "malformed"),
            (BODY, SIG, "", 1700000000, "empty"),
        ]
        for body, sig, secret, now, why in cases:
            with self.subTest(why=why), self.assertRaisesRegex(WebhookError, why):
                verify(body, sig, secret, now=now)


if __name__ == "__main__":
    unittest.main()
