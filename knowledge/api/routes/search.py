"""`GET /v1/search`: the same engine and JSON as `crampbot ask --json`.

Plainly valid searches are usually answered by the fast path (`knowledge/api/fast_path.py`)
before they reach this route; both answer through `ApiContext.search_answer`.
"""

# No `from __future__ import annotations`: FastAPI reads the route signature at run time.

from typing import Annotated

from fastapi import FastAPI, Query, Request
from starlette.responses import Response

from knowledge.api.deps import ApiContext
from knowledge.api.openapi import READS, errors
from knowledge.api.params import IfNoneMatch
from knowledge.search import MAX_RESULTS, AskResult


def add_routes(app: FastAPI, ctx: ApiContext) -> None:
    max_query = ctx.settings.max_query_chars

    @app.get(
        "/v1/search",
        tags=["search"],
        response_model=AskResult,
        responses=errors(*READS),
        summary="Answer a question: the same engine and JSON as `crampbot ask --json`",
        description=(
            "Up to `limit` topics, best first, and every red flag the question raises. An "
            'off-topic question gets `"results": []`.'
        ),
    )
    async def search(
        request: Request,
        q: Annotated[
            str,
            Query(
                min_length=1,
                max_length=max_query,
                description=f"the question, at most {max_query} characters",
                examples=["got a charley horse at 3am"],
            ),
        ],
        limit: Annotated[
            int, Query(ge=1, le=MAX_RESULTS, description="how many topics at most")
        ] = MAX_RESULTS,
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        scope = request.scope
        entry = await ctx.search_answer(scope["path"], scope["query_string"], q, limit)
        return entry.response(if_none_match)
