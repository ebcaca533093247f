"""What the client does without a server: token signing and argument checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import unittest

from ssepush import PushClient, sign_jwt


def payload(token: str) -> dict:
    parts = token.split(".")
    assert len(parts) == 3
    return json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))


class OfflineTest(unittest.TestCase):
    def test_jwt_matches_a_known_hs256_vector(self) -> None:
        head, body, sig = sign_jwt({"sub": "42"}, "secret").split(".")
        self.assertEqual(head, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9")
        self.assertEqual(body, "eyJzdWIiOiI0MiJ9")
        want = hmac.new(b"secret", f"{head}.{body}".encode(), hashlib.sha256).digest()
        self.assertEqual(sig, base64.urlsafe_b64encode(want).rstrip(b"=").decode())

    def test_subscriber_token_carries_uid_groups_and_expiry(self) -> None:
        client = PushClient("http://127.0.0.1:1", secret="s", issuer="shop", audience="push")
        claims = payload(client.subscriber_token(42, groups=["vip", 7], ttl=600))
        self.assertEqual(claims["sub"], "42")
        self.assertEqual(claims["groups"], ["vip", "7"])
        self.assertEqual((claims["iss"], claims["aud"]), ("shop", "push"))
        self.assertAlmostEqual(claims["exp"], time.time() + 600, delta=2)
        self.assertNotIn("groups", payload(client.subscriber_token("u")))

    def test_subscriber_token_needs_the_secret(self) -> None:
        with self.assertRaises(RuntimeError):
            PushClient("http://127.0.0.1:1", token="a.b.c").subscriber_token("u")

    def test_constructor_refuses_missing_credentials_and_bad_urls(self) -> None:
        with self.assertRaisesRegex(ValueError, "secret"):
            PushClient("http://127.0.0.1:1")
        with self.assertRaises(ValueError):
            PushClient("127.0.0.1:8080", secret="s")

    def test_unknown_message_fields_are_refused_before_sending(self) -> None:
        with self.assertRaises(ValueError):
            PushClient("http://127.0.0.1:1", secret="s").batch([{"to": "a", "dta": 1}])


if __name__ == "__main__":
    unittest.main()
