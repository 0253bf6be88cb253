"""Who may write: one check for the bearer token, run before a write's body is read.

FastAPI parses a request's body before it runs a route's dependencies, so a write with a
malformed body and no token answered 422 (the body is wrong) instead of 401 (you may not write
at all), and told an anonymous caller about the body's shape. `WriteGate` runs the same check
as the routes' dependency (`writer_error`) at the ASGI layer, before anything reads the body.
"""

from __future__ import annotations

import hmac
import re

from starlette.types import ASGIApp, Receive, Scope, Send

from knowledge.api.errors import ApiError, error_response

# The write routes: POST to a collection, PUT or DELETE of an item. Anything else passes on, so
# routing still answers 404 or 405 for what does not exist.
_COLLECTION = re.compile(r"/v1/(topics|tips)/?")
_ITEM = re.compile(r"/v1/(topics|tips)/[^/]+/?")


def is_write(method: str, path: str) -> bool:
    if method == "POST":
        return bool(_COLLECTION.fullmatch(path))
    return method in {"PUT", "DELETE"} and bool(_ITEM.fullmatch(path)) and path != "/v1/tips/random"


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def writer_error(secret: bytes | None, authorization: str | None) -> ApiError | None:
    """Why a request with this Authorization header may not write, or None when it may."""
    if secret is None:
        return ApiError(
            403,
            "writes are off: set CRAMPBOT_API_TOKEN on the server to turn them on",
            code="writes_disabled",
        )
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return ApiError(
            401, "send the token as 'Authorization: Bearer <token>'", headers=_CHALLENGE
        )
    # Constant time, so response times say nothing about how much of a guess was right.
    if not hmac.compare_digest(token.strip().encode(), secret):
        return ApiError(401, "the bearer token is not valid", headers=_CHALLENGE)
    return None


class WriteGate:
    """Pure ASGI middleware: a write under /v1/ without the right token stops here."""

    def __init__(self, app: ASGIApp, secret: bytes | None) -> None:
        self.app = app
        self.secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_write(scope["method"], str(scope["path"])):
            header = next(
                (v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None
            )
            error = writer_error(self.secret, header)
            if error is not None:
                response = error_response(
                    error.status_code, error.message, code=error.code, headers=error.headers
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
