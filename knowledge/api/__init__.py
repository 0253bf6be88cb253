"""The content API: the knowledge store over HTTP (FastAPI, served by uvicorn).

Importing this package starts nothing; `create_app` builds an app, `serve_api` serves one.
"""

from knowledge.api.app import create_app
from knowledge.api.server import ApiServer, ApiServerError, serve_api
from knowledge.api.settings import ApiSettings

__all__ = [
    "ApiServer",
    "ApiServerError",
    "ApiSettings",
    "create_app",
    "serve_api",
]
