"""One JSON shape for every error the API sends, built by one helper.

Clients should need one error parser, whatever went wrong: a bad query parameter (422), a missing
topic (404), a wrong method (405), a body that is too big (413), a missing token (401), writes
switched off (403) or a bug (500). So FastAPI's and Starlette's own error responses are all
replaced here, and `ErrorGuard` catches whatever escapes the routes, logs the traceback and answers
with the same shape: a stack trace never reaches a response.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

# A short, stable name per status, for clients that branch on the kind of error.
CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "content_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}
# Details listed in one response: enough to fix a request, bounded for a pathological one.
MAX_DETAILS = 20


class ErrorDetail(BaseModel):
    """One thing wrong with the request: where (`field`, dotted) and what."""

    model_config = ConfigDict(frozen=True)

    field: str
    message: str
    type: str


class ErrorInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: int
    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorBody(BaseModel):
    """The body of every error response: `{"error": {"status", "code", "message", "details"}}`."""

    model_config = ConfigDict(frozen=True)

    error: ErrorInfo


class ApiError(HTTPException):
    """An error a route raises on purpose, with the code and message the client will see."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Iterable[ErrorDetail] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=message, headers=dict(headers or {}))
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.details = list(details)


class BodyTooLargeError(ApiError):
    """Raised while a body is read; an HTTPException so FastAPI passes it on untouched."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the {limit} bytes this API accepts")


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    details: Sequence[ErrorDetail] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    """THE error response: every error path in the API ends here."""
    body = ErrorBody(
        error=ErrorInfo(
            status=status,
            code=code or CODES.get(status, "error"),
            message=message,
            details=list(details[:MAX_DETAILS]),
        )
    )
    return Response(
        body.model_dump_json().encode(),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def validation_details(errors: Sequence[Any]) -> list[ErrorDetail]:
    """Pydantic's errors as details; the offending input is never echoed (it may be huge)."""
    details = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        details.append(
            ErrorDetail(
                field=".".join(loc) or "request", message=message, type=str(error.get("type"))
            )
        )
    return details


def _describe(detail: ErrorDetail) -> str:
    where, _, rest = detail.field.partition(".")
    if where in {"query", "path", "header"} and rest:
        return f"{where} parameter {rest!r}: {detail.message}"
    if where == "body":
        return f"body field {rest!r}: {detail.message}" if rest else f"body: {detail.message}"
    return f"{detail.field}: {detail.message}"


def _allowed_methods(request: Request) -> list[str]:
    """The methods the URL really has. A literal route (/v1/tips/random) owns its URL: the
    methods of a parameterised route that also matches it (/v1/tips/{tip_id}) do not count."""
    literal: set[str] = set()
    templated: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods = set(getattr(route, "methods", None) or ())
            has_params = "{" in str(getattr(route, "path", ""))
            (templated if has_params else literal).update(methods)
    return sorted(literal or templated)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if isinstance(exc, ApiError):
        return error_response(
            exc.status_code,
            exc.message,
            code=exc.code,
            details=exc.details,
            headers=exc.headers,
        )
    status = exc.status_code
    headers = dict(exc.headers or {})
    if status == 404:
        message = f"nothing at {request.url.path}; see /docs for what this API serves"
    elif status == 405:
        # Starlette names only the first route that matched the path; list every method.
        allowed = _allowed_methods(request)
        headers = {key: value for key, value in headers.items() if key.lower() != "allow"}
        message = f"{request.method} is not allowed on {request.url.path}"
        if allowed:
            headers["Allow"] = ", ".join(allowed)
            message += f"; use {', '.join(allowed)}"
    elif status == 400:
        message = "the request body could not be read as JSON (is it UTF-8?)"
    else:
        message = str(exc.detail)
    return error_response(status, message, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = validation_details(exc.errors())
    message = _describe(details[0]) if details else "the request is not valid"
    if len(details) > 1:
        message += f" (and {len(details) - 1} more problem(s), listed in details)"
    return error_response(422, message, details=details)


def install_error_handlers(app: FastAPI) -> None:
    """Route FastAPI's and Starlette's errors through `error_response`."""
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)


class ErrorGuard:
    """Pure ASGI middleware: bounds request bodies and turns any escaped exception into a 500.

    It sits inside Starlette's own ServerErrorMiddleware, so nothing reaches that one (which would
    answer in plain text). Refusing on `Content-Length` before the app runs means an oversized
    upload is never read; a body sent without a length is counted as it arrives.

    Why not the framework's own: FastAPI's `max_body_size` (0.165) answers 413 with its default
    handler's `{"detail": ...}`, not this API's one error shape, and an `Exception` handler runs
    in ServerErrorMiddleware, which re-raises after answering, so the server logs every 500 a
    second time with its own traceback. Both would change what clients and operators see.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await error_response(
                        413, BodyTooLargeError(limit).message, headers={"Connection": "close"}
                    )(scope, receive, send)
                    return
                break
        started = False
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLargeError as exc:
            # Read outside a route (FastAPI hands those to the handlers above itself).
            if not started:
                await error_response(413, exc.message)(scope, receive, send)
        except Exception:
            log.exception("unhandled error answering %s %s", scope["method"], scope["path"])
            if not started:
                response = error_response(
                    500, "something went wrong on our side; it has been logged"
                )
                await response(scope, receive, send)
