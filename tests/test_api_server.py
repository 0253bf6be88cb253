"""The content API behind a real uvicorn on 127.0.0.1, started and stopped by the tests."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from knowledge.api import ApiServer, ApiServerError, ApiSettings, serve_api
from knowledge.models import Topic
from knowledge.runtime import Knowledge

TOKEN = "server-test-token"


def api_settings(**values: Any) -> ApiSettings:
    values = {"CRAMPBOT_API_PORT": 0, "CRAMPBOT_API_TOKEN": TOKEN, **values}
    return ApiSettings(_env_file=None, **values)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def refuses_connections(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
async def server(knowledge: Knowledge) -> AsyncIterator[ApiServer]:
    started = ApiServer(knowledge, api_settings(CRAMPBOT_API_MAX_BODY_BYTES=4096))
    await started.start()
    task = asyncio.create_task(started.serve())
    try:
        yield started
    finally:
        started.stop()
        await asyncio.wait_for(task, timeout=10)


async def test_real_server_serves_reads_304s_search_docs_and_errors(
    server: ApiServer, knowledge: Knowledge
) -> None:
    assert server.port and server.url == f"http://127.0.0.1:{server.port}"
    async with httpx.AsyncClient(base_url=server.url) as client:
        health = await client.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"

        topic = await client.get("/v1/topics/calf-cramp")
        assert topic.status_code == 200
        assert Topic.model_validate(topic.json()) == await knowledge.store.topic("calf-cramp")
        assert "server" not in topic.headers  # no product banner
        again = await client.get("/v1/topics/calf-cramp")  # from the cached lane
        assert again.content == topic.content
        revalidated = await client.get(
            "/v1/topics/calf-cramp", headers={"If-None-Match": topic.headers["etag"]}
        )
        assert revalidated.status_code == 304 and revalidated.content == b""

        head = await client.head("/v1/topics/calf-cramp")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(topic.content))
        assert head.headers["etag"] == topic.headers["etag"]
        assert (await client.head("/v1/topics/no-such-topic")).status_code == 404

        question = "got a charley horse at 3am"
        answer = await client.get("/v1/search", params={"q": question})
        assert answer.json() == (await knowledge.search.ask(question)).model_dump(mode="json")

        docs = await client.get("/docs")
        assert docs.status_code == 200 and "docs/docs.js" in docs.text
        assert (await client.get("/openapi.json")).json()["openapi"].startswith("3.1")

        missing = await client.get("/v1/topics/no-such-topic")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"


async def test_real_server_refuses_big_bodies_declared_or_streamed(server: ApiServer) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=server.url) as client:
        declared = await client.post("/v1/tips", content=b"x" * 10_000, headers=auth)
        assert declared.status_code == 413
        assert "4096 bytes" in declared.json()["error"]["message"]

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b" " * 1000

    async with httpx.AsyncClient(base_url=server.url) as client:
        streamed = await client.post("/v1/tips", content=chunks(), headers=auth)
        assert streamed.status_code == 413
        assert streamed.json()["error"]["status"] == 413


async def test_real_server_writes_with_a_token(server: ApiServer) -> None:
    tip = {
        "id": "real-server-tip",
        "kind": "massage",
        "text": "Warm your hands before rubbing a cramped calf: cold hands make the muscle "
        "tense up again.",
        "sources": ["nhs-inform-leg-cramps"],
    }
    async with httpx.AsyncClient(base_url=server.url) as client:
        refused = await client.post("/v1/tips", json=tip)
        assert refused.status_code == 401
        made = await client.post("/v1/tips", json=tip, headers={"Authorization": f"Bearer {TOKEN}"})
        assert made.status_code == 201, made.text
        assert (await client.get("/v1/tips/real-server-tip")).json()["origin"] == "api"


async def test_serve_api_signals_ready_and_stops_cleanly_when_cancelled(
    knowledge: Knowledge,
) -> None:
    port = free_port()
    ready = asyncio.Event()
    task = asyncio.create_task(
        serve_api(knowledge, api_settings(CRAMPBOT_API_PORT=port), ready=ready)
    )
    await asyncio.wait_for(ready.wait(), timeout=10)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        assert (await client.get("/healthz")).status_code == 200
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
    assert refuses_connections(port)
    # The store is still usable: stopping the API closed only the API.
    assert await knowledge.store.count_topics() > 0


async def test_a_request_in_flight_finishes_during_shutdown(
    knowledge: Knowledge, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Events, not sleeps: the request is known to be inside its handler before the server is
    # cancelled, and it is let go only once the shutdown has begun, however slow the machine.
    real = knowledge.store.topic
    in_handler, shutting_down, release = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def held(slug: str) -> Topic | None:
        in_handler.set()
        await release.wait()
        return await real(slug)

    monkeypatch.setattr(knowledge.store, "topic", held)
    server = ApiServer(knowledge, api_settings())
    await server.start()
    real_shutdown = server.server.shutdown

    async def shutdown(sockets: list[socket.socket] | None = None) -> None:
        shutting_down.set()
        await real_shutdown(sockets=sockets)

    monkeypatch.setattr(server.server, "shutdown", shutdown)
    serving = asyncio.create_task(server.serve())
    async with httpx.AsyncClient(base_url=server.url) as client:
        request = asyncio.create_task(client.get("/v1/topics/calf-cramp"))
        await asyncio.wait_for(in_handler.wait(), timeout=10)
        serving.cancel()  # as `crampbot run` does on Ctrl-C
        await asyncio.wait_for(shutting_down.wait(), timeout=10)
        release.set()
        response = await request
    assert response.status_code == 200
    assert response.json()["slug"] == "calf-cramp"
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(serving, timeout=10)
    assert refuses_connections(server.port or 0)


async def test_a_taken_port_is_a_clear_error_not_an_exit(knowledge: Knowledge) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ApiServerError, match=f"cannot listen on 127.0.0.1:{port}"):
            await serve_api(knowledge, api_settings(CRAMPBOT_API_PORT=port))


async def test_an_unknown_host_is_a_clear_error(knowledge: Knowledge) -> None:
    with pytest.raises(ApiServerError, match=r"cannot listen on no-such-host\.invalid"):
        await serve_api(knowledge, api_settings(CRAMPBOT_API_HOST="no-such-host.invalid"))
