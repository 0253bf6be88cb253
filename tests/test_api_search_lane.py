"""The fast path (knowledge/api/fast_path.py) must answer exactly as the routes.

It answers plain searches and already-cached GETs before FastAPI. Each request goes to two apps
over the same store, one with the fast path and one without any of it, and the status, headers
and body must match byte for byte; requests the fast path does not take (anything not plainly
valid, anything not cached) must reach the route, which owns every error message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.types import Scope, Send

from knowledge.api import create_app
from knowledge.api.app import CachedBody, ContentApi
from knowledge.api.search_lane import PlainSearch, plain_search
from knowledge.runtime import Knowledge
from tests.test_api import AUTH, api_settings, new_tip

PLAIN = 11  # the first PLAIN targets are plainly valid; the rest must reach the route
TARGETS = [
    "/v1/search?q=calf+cramp+at+night",
    "/v1/search?q=charley%20horse&limit=1",
    "/v1/search?limit=5&q=leg%20cramps%20while%20pregnant",
    "/v1/search?q=pee%20is%20dark%20like%20cola%20after%20crossfit",
    "/v1/search?q=bitcoin%20price",
    "/v1/search?q=%C3%A9tirement%20mollet%20%F0%9F%A6%B5",
    "/v1/search?q=%22calf%22%20OR%20NEAR(x*)",
    "/v1/search?q=x",
    "/v1/search?q=" + "cramp%20" * 60,
    "/v1/search?q=cramp&limit=03",
    "/v1/search?q=" + "x" * 500,
    # Not plainly valid: the route answers all of these.
    "/v1/search",
    "/v1/search?q=",
    "/v1/search?q=cramp&limit=0",
    "/v1/search?q=cramp&limit=6",
    "/v1/search?q=cramp&limit=abc",
    "/v1/search?q=cramp&limit=%2B3",
    "/v1/search?q=cramp&q=calf",
    "/v1/search?q=cramp&lang=en",
    "/v1/search?q=" + "x" * 501,
]


Pair = tuple[httpx.AsyncClient, httpx.AsyncClient, list[bool]]


@pytest.fixture(params=[True, False], ids=["answer-cache", "no-answer-cache"])
async def pair(knowledge: Knowledge, request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    """A client with the lane, one without, and what the lane said to each request it saw."""
    settings = api_settings(CRAMPBOT_API_SEARCH_CACHE=request.param)
    with_lane = create_app(knowledge, settings)
    without = create_app(knowledge, settings)
    assert isinstance(with_lane, ContentApi) and isinstance(without, ContentApi)
    lane = with_lane.search_lane
    assert lane is not None
    taken: list[bool] = []

    async def watched(scope: Scope, send: Send) -> bool:
        assert lane is not None
        taken.append(await lane(scope, send))
        return taken[-1]

    with_lane.search_lane = watched
    without.search_lane = None
    without.content_cache = None  # the reference: no fast path at all
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=with_lane), base_url="http://a") as a,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=without), base_url="http://a") as b,
    ):
        yield a, b, taken


def same(a: httpx.Response, b: httpx.Response) -> None:
    assert a.status_code == b.status_code, (a.text, b.text)
    assert a.headers.multi_items() == b.headers.multi_items()
    assert a.content == b.content


@pytest.mark.parametrize(("position", "target"), list(enumerate(TARGETS)))
async def test_lane_and_route_answer_alike(pair: Pair, position: int, target: str) -> None:
    lane, route, taken = pair
    first = await lane.get(target)
    same(first, await route.get(target))
    assert taken == [position < PLAIN]
    for _ in range(2):  # again: an answer cache (when on) is now in play
        first = await lane.get(target)
        same(first, await route.get(target))
        if first.status_code == 200:
            etag = {"If-None-Match": first.headers["etag"]}
            same(await lane.get(target, headers=etag), await route.get(target, headers=etag))
            assert (await lane.get(target, headers=etag)).status_code == 304
            same(await lane.head(target), await route.head(target))


def test_only_plainly_valid_query_strings_take_the_lane() -> None:
    assert plain_search(b"q=calf%20cramp", 500, 5) == PlainSearch("calf cramp", 5)
    assert plain_search(b"limit=2&q=a+b", 500, 5) == PlainSearch("a b", 2)
    for refused in [
        b"",
        b"q=",
        b"limit=2",
        b"q=a&limit=",
        b"q=a&limit=6",
        b"q=a&limit=-1",
        b"q=a&limit=%EF%BC%93",  # a full-width digit: pydantic's business, not the lane's
        b"q=a&q=b",
        b"q=a&x=1",
        b"q=" + b"x" * 501,
    ]:
        assert plain_search(refused, 500, 5) is None, refused


# Every cached read route, answered by the fast path once a route has made the body. The first
# CACHED_ON_REPEAT targets are 200s (cached, so fast-pathed when repeated); the rest are errors or
# uncached reads, which never enter the cache and so always reach the route.
CACHED_ON_REPEAT = 12
READ_TARGETS = [
    "/v1/topics",
    "/v1/topics?kind=cramp",
    "/v1/topics?limit=2&offset=1",
    "/v1/topics/{topic}",
    "/v1/topics/{topic}?unused=1",
    "/v1/stretches",
    "/v1/stretches?region=calf",
    "/v1/stretches?limit=1&offset=2",
    "/v1/stretches/{stretch}",
    "/v1/tips",
    "/v1/tips?kind=hydration&limit=3",
    "/v1/tips/{tip}",
    # Never cached: the route answers every time.
    "/v1/topics/no-such-topic",
    "/v1/topics/NOT_A_SLUG",
    "/v1/topics?limit=0",
    "/v1/stretches/no-such-stretch",
    "/v1/tips/no-such-tip",
    "/v1/tips?kind=nonsense",
    "/v1/tips/random?kind=nonsense",
    "/v1/nothing-here",
]


@pytest.fixture
def fast_sends(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the fast path answered: only it calls `CachedBody.send` (routes respond)."""
    sent: list[str] = []
    original = CachedBody.send

    async def watched(self: CachedBody, scope: Scope, send: Send) -> None:
        sent.append(scope["path"])
        await original(self, scope, send)

    monkeypatch.setattr(CachedBody, "send", watched)
    return sent


@pytest.mark.parametrize(("position", "template"), list(enumerate(READ_TARGETS)))
async def test_cached_reads_answer_as_the_routes(
    pair: Pair, fast_sends: list[str], position: int, template: str
) -> None:
    fast, route, _ = pair
    first_topic = (await route.get("/v1/topics?limit=1")).json()["items"][0]["slug"]
    first_stretch = (await route.get("/v1/stretches?limit=1")).json()["items"][0]["slug"]
    first_tip = (await route.get("/v1/tips?limit=1")).json()["items"][0]["id"]
    target = template.format(topic=first_topic, stretch=first_stretch, tip=first_tip)
    first = await fast.get(target)
    same(first, await route.get(target))
    assert fast_sends == []  # the first time, a route made the answer
    for _ in range(2):
        again = await fast.get(target)
        same(again, await route.get(target))
        same(again, first)
        if again.status_code == 200:
            etag = first.headers["etag"]
            for header in [etag, f"W/{etag}", f'"other", {etag}', "*", '"stale"']:
                sent = {"If-None-Match": header}
                same(await fast.get(target, headers=sent), await route.get(target, headers=sent))
            same(await fast.head(target), await route.head(target))
    cached = position < CACHED_ON_REPEAT
    assert (first.status_code == 200) is cached, first.text
    assert bool(fast_sends) is cached
    # A GET that announces a body always takes the normal path (limits apply there).
    fast_sends.clear()
    with_body = {"Content-Length": "2", "Content-Type": "application/json"}
    same(
        await fast.request("GET", target, content=b"{}", headers=with_body),
        await route.request("GET", target, content=b"{}", headers=with_body),
    )
    assert fast_sends == []


async def test_the_fast_path_sees_writes(pair: Pair, fast_sends: list[str]) -> None:
    """A cached body is dropped when the content changes, so no stale answer is fast-pathed."""
    fast, route, _ = pair
    before = await fast.get("/v1/tips?kind=general")
    assert (await fast.get("/v1/tips?kind=general")).content == before.content
    assert fast_sends == ["/v1/tips"]
    created = await fast.post("/v1/tips", json=new_tip(), headers=AUTH)
    assert created.status_code == 201, created.text
    after = await fast.get("/v1/tips?kind=general")
    assert after.content != before.content
    same(after, await route.get("/v1/tips?kind=general"))
