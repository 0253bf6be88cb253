"""What the OpenAPI document says about the API as a whole and about each route's errors."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from knowledge.api.errors import ErrorBody


def version() -> str:
    try:
        return metadata.version("crampbot")
    except metadata.PackageNotFoundError:  # pragma: no cover - a bare checkout
        return "0"


# Keyword arguments for the app: its title, description and tags.
APP_INFO: dict[str, Any] = {
    "title": "crampbot content API",
    "summary": "Sourced answers about muscle cramps, stretching, massage and hydration.",
    "description": (
        "Read topics, stretches and tips, and search them the way `crampbot ask` does. "
        'Every error has one shape: `{"error": {"status", "code", "message", "details"}}`. '
        "Reads carry an ETag; send it back in `If-None-Match` for a 304. Writes need "
        "`Authorization: Bearer <CRAMPBOT_API_TOKEN>`. General information, not medical "
        "advice."
    ),
    "openapi_tags": [
        {"name": "topics", "description": "Pages of knowledge: cramps, causes, massage, care"},
        {"name": "stretches", "description": "Stretches with steps, holds and cautions"},
        {"name": "tips", "description": "Short daily tips"},
        {"name": "search", "description": "Questions in, best topics and red flags out"},
        {"name": "health", "description": "For load balancers and supervisors"},
    ],
}

_DESCRIBED = {
    304: "Not modified: the ETag in If-None-Match is still current (no body)",
    400: "The body is not readable JSON",
    401: "Missing or wrong bearer token",
    403: "Writes are off: CRAMPBOT_API_TOKEN is not set",
    404: "Not found",
    409: "Conflicts with existing content",
    413: "The request body is too large",
    422: "The request breaks a rule; details say which",
    500: "A bug on our side (logged); never a stack trace",
    503: "The knowledge store cannot be read",
}
READS = (304, 422)
WRITES = (400, 401, 403, 413, 422, 503)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer, all with the one shape."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in (*statuses, 500):
        out[status] = {"description": _DESCRIBED[status]}
        if status != 304:
            out[status]["model"] = ErrorBody
    return out
