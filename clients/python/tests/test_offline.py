"""What the client does without a server: token signing and argument checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import unittest
from unittest import mock

from ssepush import PushClient, PushError, sign_jwt


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

    def test_publisher_tokens_use_the_publisher_secret_and_are_reused(self) -> None:
        seen = []

        def fake_urlopen(req, timeout):
            seen.append(req)
            answer = mock.MagicMock()
            body = b'{"id":"e","online":false,"delivered":0}'
            answer.__enter__.return_value = mock.Mock(status=200, read=lambda: body)
            return answer

        client = PushClient("http://push.internal:8080/", secret="sub-secret", publisher_secret="pub-secret",
                            audience="push")
        with mock.patch("urllib.request.urlopen", fake_urlopen):
            client.send({"to": (1, "b"), "group": "g", "data": {"x": 1}, "event": None})
            client.broadcast("你好", event="note")
        self.assertEqual([(r.get_method(), r.full_url) for r in seen], [("POST", "http://push.internal:8080/push")] * 2)
        self.assertEqual(seen[0].data, b'{"to":[1,"b"],"group":"g","data":{"x":1}}')
        self.assertEqual(json.loads(seen[1].data), {"data": "你好", "event": "note"})
        tokens = [r.get_header("Authorization") for r in seen]
        self.assertEqual(tokens[0], tokens[1])
        token = tokens[0].replace("Bearer ", "")
        claims = payload(token)
        self.assertEqual((claims["scope"], claims["aud"]), ("push", "push"))
        self.assertEqual(sign_jwt(claims, "pub-secret"), token)

    def test_only_control_calls_carry_a_control_token(self) -> None:
        seen = []

        def fake_urlopen(req, timeout):
            seen.append(req)
            path = req.full_url.split("8080")[1]
            body = {
                "/push": b'{"id":"e","online":false,"delivered":0}',
                "/online/uids?limit=2": b'{"uids":["a"],"cursor":null}',
            }.get(path, b'{"uids":0,"connections":0,"groups":{"g":{"uids":0,"connections":0}}}')
            answer = mock.MagicMock()
            answer.__enter__.return_value = mock.Mock(status=200, read=lambda: body)
            return answer

        client = PushClient("http://h:8080", secret="s")
        with mock.patch("urllib.request.urlopen", fake_urlopen):
            client.push_to_group("g", 1, exclude=["a", "b"])
            client.group_counts(["g"])
            self.assertEqual(list(client.online_uids(page_size=2)), ["a"])
            client.disconnect(["a"], revoke=True)
            client.join_group("a", "g")
            client.push("a", 2)
        self.assertEqual(json.loads(seen[0].data), {"group": "g", "exclude": ["a", "b"], "data": 1, "event": "message"})
        self.assertEqual(json.loads(seen[3].data), {"uid": ["a"], "revoke": True})
        scopes = [(r.full_url.split("8080")[1].split("?")[0], payload(r.get_header("Authorization")[7:])["scope"])
                  for r in seen]
        self.assertEqual(scopes, [("/push", "push"), ("/online", "push"), ("/online/uids", "push"),
                                  ("/disconnect", "control"), ("/groups", "control"), ("/push", "push")])

    def test_an_answer_that_is_not_json_is_a_bad_response(self) -> None:
        def fake_urlopen(req, timeout):
            answer = mock.MagicMock()
            answer.__enter__.return_value = mock.Mock(status=200, read=lambda: b"<html>")
            return answer

        with mock.patch("urllib.request.urlopen", fake_urlopen), self.assertRaises(PushError) as caught:
            PushClient("http://h", token="t").push("u", 1)
        self.assertEqual((caught.exception.status, caught.exception.code), (200, "bad_response"))


if __name__ == "__main__":
    unittest.main()
