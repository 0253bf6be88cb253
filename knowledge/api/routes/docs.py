"""The docs page, served from the package (no CDN) and left out of the OpenAPI document."""

from collections.abc import Awaitable, Callable
from importlib import resources

from fastapi import FastAPI
from starlette.responses import Response

DOCS_FILES = {
    "/docs": ("docs.html", "text/html"),
    "/docs/docs.js": ("docs.js", "text/javascript"),
    "/docs/docs.css": ("docs.css", "text/css"),
}
# The docs page loads only its own files and talks only to this API.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def add_routes(app: FastAPI) -> None:
    static = resources.files("knowledge.api").joinpath("static")
    for path, (name, media_type) in DOCS_FILES.items():
        body = static.joinpath(name).read_bytes()
        app.add_api_route(
            path, _static_file(body, media_type), methods=["GET"], include_in_schema=False
        )


def _static_file(body: bytes, media_type: str) -> Callable[[], Awaitable[Response]]:
    async def serve() -> Response:
        return Response(
            body,
            media_type=media_type,
            headers={"Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-cache"},
        )

    return serve
