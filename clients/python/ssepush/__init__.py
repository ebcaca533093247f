"""Backend client for ssepush: sign subscriber tokens for your pages and push messages to them.

Standard library only, Python >= 3.9::

    from ssepush import PushClient

    push = PushClient("http://127.0.0.1:8080", secret=os.environ["SSEPUSH_SECRET"])
    push.push(42, {"title": "New order", "id": 1001})
    token = push.subscriber_token(42, groups=["vip"])  # hand this to the page
"""

from .client import PushClient, PushConnectionError, PushError
from .jwt import sign_jwt

__all__ = ["PushClient", "PushError", "PushConnectionError", "sign_jwt"]
__version__ = "0.1.0"
