"""The content API in process (httpx over ASGI): every endpoint, every error path, one shape."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from schemathesis.specs.openapi.definitions import OPENAPI_31

from knowledge.api import ApiSettings, create_app
from knowledge.api.app import CACHE_MAX_BYTES, MAX_OFFSET, ContentCache, etag_matches
from knowledge.models import Origin, Tip, TipKind, Topic, TopicKind
from knowledge.runtime import Knowledge
from tests.seedfactory import write_seeds

CRAMPBOT = Path(sys.executable).with_name("crampbot")
TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def api_settings(**values: Any) -> ApiSettings:
    """Settings from the arguments only: no `.env`, and a token unless told otherwise."""
    values.setdefault("CRAMPBOT_API_TOKEN", TOKEN)
    return ApiSettings(_env_file=None, **values)


def client_for(knowledge: Knowledge, settings: ApiSettings, **kwargs: Any) -> httpx.AsyncClient:
    app = create_app(knowledge, settings, **kwargs)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")


@pytest.fixture
async def client(knowledge: Knowledge) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(knowledge, api_settings()) as opened:
        yield opened


@pytest.fixture
async def readonly(knowledge: Knowledge) -> AsyncIterator[httpx.AsyncClient]:
    """The API with writes off (no CRAMPBOT_API_TOKEN)."""
    async with client_for(knowledge, api_settings(CRAMPBOT_API_TOKEN=None)) as opened:
        yield opened


def assert_error(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    """The one error shape, with the status in it, a message and no stack trace."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "details"}
    assert error["status"] == status
    assert error["code"] and error["message"]
    assert isinstance(error["details"], list)
    for detail in error["details"]:
        assert set(detail) == {"field", "message", "type"}
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    for word in words:
        assert word in error["message"], error["message"]
    return dict(error)


def new_tip(**changes: Any) -> dict[str, Any]:
    tip = {
        "id": "api-made-tip",
        "kind": "general",
        "text": "Keep a towel by the bed: looping it round your foot makes a night cramp stretch "
        "easy to reach without getting up.",
        "sources": ["nhs-inform-leg-cramps"],
    }
    return {**tip, **changes}


def new_topic(**changes: Any) -> dict[str, Any]:
    topic = {
        "slug": "shin-splint-cramp",
        "kind": "cause",
        "title": "Shin tightness after running",
        "aliases": ["tight shins after a run"],
        "summary": "Shins that feel tight after running are usually tired muscles. Rest and "
        "stretch gently.",
        "sections": [
            {"heading": "What it is", "body": "Tired muscles at the front of the lower leg."},
            {"heading": "What to do now", "body": "Rest, then stretch gently.\n\n# Not a section"},
        ],
        "related": ["exercise-cramps"],
        "stretches": ["standing-calf-stretch"],
        "sources": ["nhs-inform-leg-cramps"],
    }
    return {**topic, **changes}


# ---- reads -----------------------------------------------------------------------------------


async def test_topic_by_slug_is_the_store_model_with_etag_and_cache_control(
    client: httpx.AsyncClient, knowledge: Knowledge
) -> None:
    response = await client.get("/v1/topics/calf-cramp")
    assert response.status_code == 200
    topic = await knowledge.store.topic("calf-cramp")
    assert topic is not None
    assert Topic.model_validate(response.json()) == topic
    assert response.headers["etag"].startswith('"')
    assert response.headers["cache-control"] == "public, max-age=60"
    assert response.headers["content-type"] == "application/json"


async def test_the_cached_lane_answers_with_the_same_bytes_and_headers(
    client: httpx.AsyncClient,
) -> None:
    first = await client.get("/v1/topics/calf-cramp")  # made by the route, then cached
    second = await client.get("/v1/topics/calf-cramp")  # answered before routing
    assert second.content == first.content
    assert dict(second.headers) == dict(first.headers)


@pytest.mark.parametrize("path", ["/v1/topics/calf-cramp", "/v1/tips?kind=hydration"])
async def test_if_none_match_gets_a_304_from_the_route_and_from_the_lane(
    knowledge: Knowledge, path: str
) -> None:
    async with client_for(knowledge, api_settings()) as first:
        etag = (await first.get(path)).headers["etag"]
    # A fresh app has an empty cache: the route answers the revalidation.
    async with client_for(knowledge, api_settings()) as fresh:
        for attempt in ("route", "lane", "lane again"):
            response = await fresh.get(path, headers={"If-None-Match": etag})
            assert response.status_code == 304, attempt
            assert response.content == b""
            assert response.headers["etag"] == etag
            assert "cache-control" in response.headers
        for variant in (f"W/{etag}", f'"nope", {etag}', "*"):
            assert (await fresh.get(path, headers={"If-None-Match": variant})).status_code == 304
        stale = await fresh.get(path, headers={"If-None-Match": '"stale"'})
        assert stale.status_code == 200
        assert stale.headers["etag"] == etag


def test_etag_comparison_is_weak_and_understands_lists() -> None:
    assert etag_matches('"a"', '"a"')
    assert etag_matches('W/"a"', '"a"')
    assert etag_matches('"b", W/"a"', '"a"')
    assert etag_matches(" * ", '"a"')
    assert not etag_matches('"b"', '"a"')
    assert not etag_matches("", '"a"')


async def test_topics_page_by_page_cover_every_topic_once_in_slug_order(
    client: httpx.AsyncClient, knowledge: Knowledge
) -> None:
    total = await knowledge.store.count_topics()
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = (await client.get("/v1/topics", params={"limit": 7, "offset": offset})).json()
        assert page["total"] == total
        assert page["limit"] == 7
        assert page["offset"] == offset
        seen += [item["slug"] for item in page["items"]]
        offset = page["next_offset"]
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == total


async def test_topics_default_page_and_kind_filter(
    client: httpx.AsyncClient, knowledge: Knowledge
) -> None:
    page = (await client.get("/v1/topics")).json()
    assert page["limit"] == 20
    assert len(page["items"]) == min(20, page["total"])
    cramps = (await client.get("/v1/topics", params={"kind": "cramp", "limit": 100})).json()
    assert cramps["total"] == await knowledge.store.count_topics(TopicKind.CRAMP)
    assert cramps["items"] and {t["kind"] for t in cramps["items"]} == {"cramp"}
    assert cramps["next_offset"] is None
    beyond = (await client.get("/v1/topics", params={"offset": 500})).json()
    assert beyond["items"] == []
    assert beyond["next_offset"] is None


async def test_stretches_list_region_filter_and_one_by_slug(
    client: httpx.AsyncClient, knowledge: Knowledge
) -> None:
    every = await knowledge.store.stretches()
    page = (await client.get("/v1/stretches", params={"limit": 100})).json()
    assert page["total"] == len(every)
    assert [s["slug"] for s in page["items"]] == [s.slug for s in every]
    calves = (await client.get("/v1/stretches", params={"region": "calf"})).json()
    assert calves["items"] and {s["region"] for s in calves["items"]} == {"calf"}
    one = await client.get("/v1/stretches/standing-calf-stretch")
    assert one.status_code == 200
    assert one.json() == every[[s.slug for s in every].index("standing-calf-stretch")].model_dump(
        mode="json"
    )
    assert "etag" in one.headers


async def test_tips_by_kind_one_by_id_and_paging(
    client: httpx.AsyncClient, knowledge: Knowledge
) -> None:
    hydration = await knowledge.store.tips(TipKind.HYDRATION)
    page = (await client.get("/v1/tips", params={"kind": "hydration", "limit": 100})).json()
    assert page["total"] == len(hydration)
    assert [t["id"] for t in page["items"]] == [t.id for t in hydration][:100]
    all_tips = (await client.get("/v1/tips", params={"limit": 5, "offset": 5})).json()
    assert all_tips["total"] == len(await knowledge.store.tips())
    assert len(all_tips["items"]) == 5
    assert all_tips["next_offset"] == 10
    tip = await client.get(f"/v1/tips/{hydration[0].id}")
    assert Tip.model_validate(tip.json()) == hydration[0]


async def test_random_tip_is_never_cached_and_respects_its_kind(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        response = await client.get("/v1/tips/random", params={"kind": "massage"})
        assert response.status_code == 200
        assert response.json()["kind"] == "massage"
        assert response.headers["cache-control"] == "no-store"
        assert "etag" not in response.headers
    ids = {(await client.get("/v1/tips/random")).json()["id"] for _ in range(20)}
    assert len(ids) > 1


async def test_random_tip_of_a_kind_with_none_is_a_404(tmp_path: Path) -> None:
    knowledge = await Knowledge.open(tmp_path / "tiny.db")
    try:
        await knowledge.build(write_seeds(tmp_path / "seeds"))
        async with client_for(knowledge, api_settings()) as client:
            assert_error(
                await client.get("/v1/tips/random", params={"kind": "hydration"}),
                404,
                "no hydration tips",
            )
    finally:
        await knowledge.close()


QUESTIONS = [
    "got a charley horse at 3am",
    "pee is dark like cola after crossfit",
    "bitcoin price",
    'quote " NEAR( * AND OR \x00 control',
]


@pytest.mark.parametrize("question", QUESTIONS)
async def test_search_is_exactly_crampbot_ask_json(
    client: httpx.AsyncClient, knowledge: Knowledge, db_copy: Path, question: str
) -> None:
    response = await client.get("/v1/search", params={"q": question})
    assert response.status_code == 200
    assert response.json() == (await knowledge.search.ask(question)).model_dump(mode="json")
    assert "etag" in response.headers
    if "\x00" in question:
        return  # a NUL cannot be a command-line argument
    process = await asyncio.create_subprocess_exec(
        str(CRAMPBOT),
        "ask",
        "--db",
        str(db_copy),
        "--json",
        question,
        stdout=asyncio.subprocess.PIPE,
    )
    printed, _ = await process.communicate()
    assert process.returncode == 0
    assert response.content == printed.strip()


async def test_search_red_flags_limit_and_off_topic(client: httpx.AsyncClient) -> None:
    flagged = (await client.get("/v1/search", params={"q": "pee is dark like cola"})).json()
    assert [flag["id"] for flag in flagged["red_flags"]] == ["rhabdomyolysis"]
    one = (await client.get("/v1/search", params={"q": "calf cramp", "limit": 1})).json()
    assert len(one["results"]) == 1
    off = (await client.get("/v1/search", params={"q": "bitcoin price"})).json()
    assert off == {"query": "bitcoin price", "results": [], "red_flags": []}


async def test_search_without_the_answer_cache_answers_the_same(knowledge: Knowledge) -> None:
    settings = api_settings(CRAMPBOT_API_SEARCH_CACHE=False)
    async with (
        client_for(knowledge, settings) as uncached,
        client_for(knowledge, api_settings()) as cached,
    ):
        for question in QUESTIONS:
            a = await uncached.get("/v1/search", params={"q": question})
            b = await cached.get("/v1/search", params={"q": question})
            assert a.content == b.content
            assert a.headers["etag"] == b.headers["etag"]


async def test_healthz_reads_the_store(client: httpx.AsyncClient, knowledge: Knowledge) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "content_version": await knowledge.store.content_version(),
        "writes_enabled": True,
        "write_error": None,
        "gateway": None,  # this process runs no bot
    }
    assert response.headers["cache-control"] == "no-store"


async def test_healthz_says_503_when_the_store_cannot_be_read(db_copy: Path) -> None:
    knowledge = await Knowledge.open(db_copy)
    async with client_for(knowledge, api_settings()) as client:
        await knowledge.close()
        assert_error(await client.get("/healthz"), 503, "cannot be read")


async def test_docs_page_works_offline(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    for asset in ("docs/docs.js", "docs/docs.css"):
        assert asset in page.text
        served = await client.get(f"/{asset}")
        assert served.status_code == 200
        assert "http://" not in served.text
        assert "https://" not in served.text
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert "openapi.json" in (await client.get("/docs/docs.js")).text


async def test_openapi_document_is_valid_openapi_3_1(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1.")
    jsonschema.Draft202012Validator(OPENAPI_31).validate(document)
    assert set(document["paths"]) == {
        "/healthz",
        "/metrics",
        "/v1/topics",
        "/v1/topics/{slug}",
        "/v1/stretches",
        "/v1/stretches/{slug}",
        "/v1/tips",
        "/v1/tips/random",
        "/v1/tips/{tip_id}",
        "/v1/search",
    }
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == error_ref, (method, path, status)
            if method in {"post", "put", "delete"}:
                assert operation["security"] == [{"HTTPBearer": []}]
    assert "HTTPValidationError" not in document["components"]["schemas"]


# ---- writes ----------------------------------------------------------------------------------


async def test_create_read_replace_delete_a_tip(
    client: httpx.AsyncClient, knowledge: Knowledge
) -> None:
    created = await client.post("/v1/tips", json=new_tip(), headers=AUTH)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/v1/tips/api-made-tip"
    assert created.json()["origin"] == "api"
    stored = await knowledge.store.tip("api-made-tip")
    assert stored is not None and stored.origin is Origin.API
    first = await client.get("/v1/tips/api-made-tip")
    assert first.json() == created.json()

    changed = new_tip(
        text="Sip water through a long walk in the heat rather than gulping a "
        "litre at the end; your muscles work better when they never run dry."
    )
    replaced = await client.put("/v1/tips/api-made-tip", json=changed, headers=AUTH)
    assert replaced.status_code == 200, replaced.text
    second = await client.get("/v1/tips/api-made-tip")
    assert second.json()["text"] == changed["text"]
    assert second.headers["etag"] != first.headers["etag"]

    assert (await client.delete("/v1/tips/api-made-tip", headers=AUTH)).status_code == 204
    assert_error(await client.get("/v1/tips/api-made-tip"), 404, "api-made-tip")
    assert_error(await client.delete("/v1/tips/api-made-tip", headers=AUTH), 404)


async def test_api_content_survives_a_rebuild_from_seeds(
    client: httpx.AsyncClient, knowledge: Knowledge, seeds_dir: Path
) -> None:
    assert (await client.post("/v1/tips", json=new_tip(), headers=AUTH)).status_code == 201
    topic = await client.post("/v1/topics", json=new_topic(), headers=AUTH)
    assert topic.status_code == 201, topic.text
    report = await knowledge.build(seeds_dir)
    assert report.kept_from_api == 2
    assert (await client.get("/v1/tips/api-made-tip")).status_code == 200
    assert (await client.get("/v1/topics/shin-splint-cramp")).json()["origin"] == "api"


async def test_a_new_topic_is_listed_and_searchable(client: httpx.AsyncClient) -> None:
    before = (await client.get("/v1/topics", params={"kind": "cause"})).json()["total"]
    created = await client.post("/v1/topics", json=new_topic(), headers=AUTH)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/v1/topics/shin-splint-cramp"
    after = (await client.get("/v1/topics", params={"kind": "cause"})).json()["total"]
    assert after == before + 1
    found = (await client.get("/v1/search", params={"q": "tight shins after a run"})).json()
    assert "shin-splint-cramp" in [r["slug"] for r in found["results"]]


async def test_shipped_content_is_refused_rather_than_undone_at_the_next_rebuild(
    client: httpx.AsyncClient, knowledge: Knowledge, seeds_dir: Path
) -> None:
    """An API edit of a seed item used to answer 200, then `kb build` restored the seed."""
    original = (await client.get("/v1/topics/calf-cramp")).json()
    edited = {**original, "summary": "An edited summary, made through the API."}
    del edited["origin"]
    error = assert_error(await client.put("/v1/topics/calf-cramp", json=edited, headers=AUTH), 409)
    assert "seeds/topics/calf-cramp.md" in error["message"] and "kb build" in error["message"]
    assert_error(await client.delete("/v1/topics/calf-cramp", headers=AUTH), 409, "shipped")
    tip = (await knowledge.store.tips())[0]
    body = {**tip.model_dump(mode="json", exclude={"origin"}), "text": tip.text + " Edited."}
    assert_error(await client.put(f"/v1/tips/{tip.id}", json=body, headers=AUTH), 409, "shipped")
    assert_error(await client.delete(f"/v1/tips/{tip.id}", headers=AUTH), 409, "shipped")
    # Nothing changed, so a rebuild has nothing to undo.
    await knowledge.build(seeds_dir)
    assert (await client.get("/v1/topics/calf-cramp")).json() == original
    assert (await knowledge.store.tip(tip.id)) == tip


async def test_deleting_a_topic_others_refer_to_is_a_conflict(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/topics", json=new_topic(), headers=AUTH)).status_code == 201
    referrer = new_topic(slug="shin-care", title="Shin care", related=["shin-splint-cramp"])
    referrer["aliases"] = ["looking after sore shins"]
    assert (await client.post("/v1/topics", json=referrer, headers=AUTH)).status_code == 201
    error = assert_error(
        await client.delete("/v1/topics/shin-splint-cramp", headers=AUTH), 409, "still referred to"
    )
    assert "(related)" in error["message"]
    assert (await client.get("/v1/topics/shin-splint-cramp")).status_code == 200


async def test_deleting_an_unreferenced_topic(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/topics", json=new_topic(), headers=AUTH)).status_code == 201
    assert (await client.get("/v1/topics/shin-splint-cramp")).status_code == 200  # now cached
    assert (await client.delete("/v1/topics/shin-splint-cramp", headers=AUTH)).status_code == 204
    assert_error(await client.get("/v1/topics/shin-splint-cramp"), 404)
    assert_error(await client.delete("/v1/topics/shin-splint-cramp", headers=AUTH), 404)


RULE_BREAKS: list[tuple[str, str, dict[str, Any], str, str]] = [
    ("tips", "post", new_tip(sources=["no-such-source"]), "body.sources", "no source"),
    ("tips", "post", new_tip(id="random"), "body.id", "reserved"),
    ("topics", "post", new_topic(related=["no-such-topic"]), "body.related", "no topic"),
    ("topics", "post", new_topic(related=["shin-splint-cramp"]), "body.related", "itself"),
    ("topics", "post", new_topic(stretches=["no-such-stretch"]), "body.stretches", "no stretch"),
    ("topics", "post", new_topic(sources=["no-such-source"]), "body.sources", "no source"),
    ("topics", "post", new_topic(kind="cramp", stretches=[]), "body", "at least one stretch"),
    (
        "topics",
        "post",
        new_topic(sections=[{"heading": "What it is", "body": "One.\n## Sneaky heading\nTwo."}]),
        "body.sections.0.body",
        "section heading",
    ),
    (
        "topics",
        "post",
        new_topic(sections=[{"heading": "What it is", "body": "One.\r\nTwo."}]),
        "body.sections.0.body",
        "line breaks",
    ),
]


@pytest.mark.parametrize(("kind", "method", "body", "field", "words"), RULE_BREAKS)
async def test_writes_follow_the_kb_check_rules(
    client: httpx.AsyncClient, kind: str, method: str, body: dict[str, Any], field: str, words: str
) -> None:
    response = await client.request(method, f"/v1/{kind}", json=body, headers=AUTH)
    error = assert_error(response, 422)
    assert error["code"] == "content_rule"
    assert any(d["field"] == field and words in d["message"] for d in error["details"]), error


async def test_a_tip_that_nearly_repeats_another_is_refused(
    client: httpx.AsyncClient, knowledge: Knowledge
) -> None:
    existing = (await knowledge.store.tips())[3]
    reworded = existing.text.replace(".", "!", 1).replace(" the ", " a ", 1)
    error = assert_error(
        await client.post("/v1/tips", json=new_tip(text=reworded), headers=AUTH), 422
    )
    assert error["details"][0]["type"] == "near_duplicate"
    assert existing.id in error["details"][0]["message"]


async def test_a_near_duplicate_check_ignores_the_tip_being_replaced(
    client: httpx.AsyncClient, knowledge: Knowledge
) -> None:
    assert (await client.post("/v1/tips", json=new_tip(), headers=AUTH)).status_code == 201
    response = await client.put("/v1/tips/api-made-tip", json=new_tip(), headers=AUTH)
    assert response.status_code == 200, response.text


async def test_models_refuse_bad_bodies(client: httpx.AsyncClient) -> None:
    extra = assert_error(
        await client.post("/v1/tips", json=new_tip(colour="red"), headers=AUTH), 422
    )
    assert extra["details"][0]["field"] == "body.colour"
    too_long = assert_error(
        await client.post("/v1/tips", json=new_tip(text="x" * 281), headers=AUTH), 422
    )
    assert too_long["details"][0]["field"] == "body.text"
    heading = assert_error(
        await client.post(
            "/v1/topics",
            json=new_topic(sections=[{"heading": "Whatever", "body": "x"}]),
            headers=AUTH,
        ),
        422,
    )
    assert "unknown section heading" in heading["message"]
    surrogate = json.dumps(new_tip(text="\ud800 lonely")).encode()
    unicode = assert_error(
        await client.post(
            "/v1/tips",
            content=surrogate,
            headers={**AUTH, "Content-Type": "application/json"},
        ),
        422,
    )
    assert unicode["details"][0]["type"] == "string_unicode"


async def test_create_conflicts_and_url_mismatches(client: httpx.AsyncClient) -> None:
    assert_error(
        await client.post("/v1/topics", json=new_topic(slug="calf-cramp"), headers=AUTH),
        409,
        "already exists",
    )
    tip_id = (await client.get("/v1/tips", params={"limit": 1})).json()["items"][0]["id"]
    assert_error(await client.post("/v1/tips", json=new_tip(id=tip_id), headers=AUTH), 409, "PUT")
    mismatch = assert_error(
        await client.put("/v1/topics/calf-cramp", json=new_topic(), headers=AUTH), 422
    )
    assert mismatch["details"][0]["field"] == "body.slug"
    assert_error(
        await client.put("/v1/tips/other-id", json=new_tip(), headers=AUTH), 422, "body.id"
    )
    assert_error(
        await client.put("/v1/topics/shin-splint-cramp", json=new_topic(), headers=AUTH),
        404,
        "POST /v1/topics",
    )
    assert_error(
        await client.put("/v1/tips/api-made-tip", json=new_tip(), headers=AUTH), 404, "POST"
    )


async def test_writes_are_off_without_a_token_and_say_so(readonly: httpx.AsyncClient) -> None:
    for method, path, body in [
        ("POST", "/v1/tips", new_tip()),
        ("PUT", "/v1/topics/calf-cramp", new_topic(slug="calf-cramp")),
        ("DELETE", "/v1/tips/anything", None),
    ]:
        response = await readonly.request(method, path, json=body, headers=AUTH)
        error = assert_error(response, 403, "writes are off", "CRAMPBOT_API_TOKEN")
        assert error["code"] == "writes_disabled"
    assert (await readonly.get("/healthz")).json()["writes_enabled"] is False


async def test_writes_need_the_right_bearer_token(client: httpx.AsyncClient) -> None:
    cases: Sequence[dict[str, str]] = [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ]
    for headers in cases:
        response = await client.post("/v1/tips", json=new_tip(), headers=headers)
        assert_error(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    # Authentication comes before validation: a stranger learns nothing about the rules.
    assert_error(await client.post("/v1/tips", json={"id": "X"}), 401)


async def test_tokens_are_compared_in_constant_time(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hmac  # noqa: PLC0415

    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    await client.post("/v1/tips", json=new_tip(), headers={"Authorization": "Bearer guess"})
    assert seen == [(b"guess", TOKEN.encode())]


async def test_a_write_the_embed_rule_would_cut_is_refused(
    knowledge: Knowledge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API runs the bot's embed rule (knowledge.render) on every topic or tip it writes.

    The content models' own limits keep every valid item within Discord's, so the rule is
    made to find a cut here: what matters is that its finding refuses the write."""
    seen: list[Topic | Tip] = []

    def cut(item: Topic | Tip) -> list[str]:
        seen.append(item)
        return ["does not fit a Discord embed (text 300 > 280)"]

    monkeypatch.setattr("knowledge.api.rules.render_problems_for", cut)
    async with client_for(knowledge, api_settings()) as client:
        error = assert_error(
            await client.post("/v1/tips", json=new_tip(), headers=AUTH), 422, "Discord"
        )
    assert error["details"][0]["type"] == "content_rule"
    assert [type(item) for item in seen] == [Tip]
    assert await knowledge.store.tip("api-made-tip") is None


# ---- limits and errors -----------------------------------------------------------------------


async def test_limits_are_refused_with_a_clear_4xx(knowledge: Knowledge) -> None:
    settings = api_settings(
        CRAMPBOT_API_MAX_QUERY_CHARS=50,
        CRAMPBOT_API_MAX_PAGE_SIZE=10,
        CRAMPBOT_API_MAX_BODY_BYTES=2048,
    )
    async with client_for(knowledge, settings) as client:
        long_q = assert_error(await client.get("/v1/search", params={"q": "x" * 51}), 422, "'q'")
        assert "50 characters" in long_q["message"]
        assert (await client.get("/v1/search", params={"q": "x" * 50})).status_code == 200
        page = assert_error(await client.get("/v1/topics", params={"limit": 11}), 422, "limit")
        assert "10" in page["message"]
        assert (await client.get("/v1/topics", params={"limit": 10})).status_code == 200
        declared = await client.post(
            "/v1/tips", content=b"x" * 4096, headers={**AUTH, "Content-Type": "application/json"}
        )
        assert_error(declared, 413, "2048 bytes")

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(8):
                yield b"x" * 512

        streamed = await client.post(
            "/v1/tips", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
        )
        assert "content-length" not in streamed.request.headers
        assert_error(streamed, 413, "2048 bytes")
        # A GET carrying a body meets the same limit, even where a lane would answer the URL.
        for url in ("/v1/search?q=calf%20cramp", "/v1/topics/calf-cramp"):
            assert (await client.get(url)).status_code == 200  # the URL's answer is now cached
            oversized = await client.request("GET", url, content=b"x" * 4096)
            assert_error(oversized, 413, "2048 bytes")


ERROR_CASES: list[tuple[str, str, dict[str, Any], int]] = [
    ("GET", "/nowhere", {}, 404),
    ("GET", "/v1/topics/no-such-topic", {}, 404),
    ("GET", "/v1/stretches/no-such-stretch", {}, 404),
    ("GET", "/v1/tips/no-such-tip", {}, 404),
    ("GET", "/v1/topics/Not_A_Slug", {}, 422),
    ("GET", "/v1/topics?kind=dragon", {}, 422),
    ("GET", "/v1/topics?limit=0", {}, 422),
    ("GET", "/v1/topics?limit=1000", {}, 422),
    ("GET", "/v1/topics?offset=-1", {}, 422),
    ("GET", f"/v1/topics?offset={MAX_OFFSET + 1}", {}, 422),
    ("GET", "/v1/topics?offset=99999999999999999999999", {}, 422),
    ("GET", "/v1/stretches?region=elbow", {}, 422),
    ("GET", "/v1/tips?kind=nope", {}, 422),
    ("GET", "/v1/tips/random?kind=nope", {}, 422),
    ("GET", "/v1/search", {}, 422),
    ("GET", "/v1/search?q=", {}, 422),
    ("GET", "/v1/search?q=cramp&limit=6", {}, 422),
    ("GET", "/v1/search?q=" + "x" * 501, {}, 422),
    ("PATCH", "/v1/topics/calf-cramp", {}, 405),
    ("POST", "/v1/search?q=x", {}, 405),
    ("DELETE", "/healthz", {}, 405),
    (
        "POST",
        "/v1/tips",
        {"content": b"{", "headers": {**AUTH, "content-type": "application/json"}},
        422,
    ),
    (
        "POST",
        "/v1/tips",
        {"content": b"\x80{}", "headers": {**AUTH, "content-type": "application/json"}},
        400,
    ),
    ("POST", "/v1/tips", {"json": new_tip()}, 401),
    ("POST", "/v1/tips", {"json": new_tip(), "headers": {"Authorization": "Bearer no"}}, 401),
    ("POST", "/v1/topics", {"json": new_topic(slug="calf-cramp"), "headers": AUTH}, 409),
    ("DELETE", "/v1/topics/calf-cramp", {"headers": AUTH}, 409),
    ("POST", "/v1/tips", {"json": new_tip(sources=["nope"]), "headers": AUTH}, 422),
    ("POST", "/v1/tips", {"content": b"x" * 70_000, "headers": AUTH}, 413),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status"), ERROR_CASES)
async def test_every_error_has_the_one_shape(
    client: httpx.AsyncClient, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    assert_error(await client.request(method, path, **kwargs), status)


async def test_every_error_status_the_api_uses_has_the_one_shape(
    client: httpx.AsyncClient,
    readonly: httpx.AsyncClient,
    knowledge: Knowledge,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One request per status: 400 401 403 404 405 409 413 422 500, all the same shape."""
    statuses = {}
    for method, path, kwargs, status in ERROR_CASES:
        statuses[status] = assert_error(await client.request(method, path, **kwargs), status)
    statuses[403] = assert_error(await readonly.post("/v1/tips", json=new_tip()), 403)

    async def broken(slug: str) -> Topic | None:
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(knowledge.store, "topic", broken)
    with caplog.at_level(logging.ERROR, logger="knowledge.api.errors"):
        response = await client.get("/v1/topics/night-cramps")
    statuses[500] = assert_error(response, 500, "went wrong")
    assert "secret internals" not in response.text
    assert "RuntimeError" not in response.text
    assert any("secret internals" in (r.exc_text or "") for r in caplog.records)
    assert set(statuses) == {400, 401, 403, 404, 405, 409, 413, 422, 500}
    assert {e["code"] for e in statuses.values()} >= {"not_found", "method_not_allowed"}


async def test_method_not_allowed_names_every_method_the_path_has(
    client: httpx.AsyncClient,
) -> None:
    response = await client.patch("/v1/topics/calf-cramp")
    assert response.headers["allow"] == "DELETE, GET, PUT"
    assert_error(response, 405, "DELETE, GET, PUT")


# ---- the cache follows the content -------------------------------------------------------------


async def test_a_change_by_another_process_is_seen_after_the_recheck(
    client: httpx.AsyncClient, knowledge: Knowledge, db_copy: Path
) -> None:
    before = (await client.get("/v1/tips/random?kind=general")).status_code
    assert before == 200
    first = (await client.get("/v1/topics?kind=care&limit=100")).json()["total"]
    other = await Knowledge.open(db_copy)  # another process, as far as our store can tell
    try:
        made = Topic.model_validate(new_topic(slug="care-topic-from-elsewhere", kind="care"))
        await other.store.save_topic(made)
    finally:
        await other.close()
    # Within the recheck window the cached page may still be served...
    assert (await client.get("/v1/topics?kind=care&limit=100")).json()["total"] in {
        first,
        first + 1,
    }
    # ...and once a recheck is due, the new content is.
    knowledge.watch.recheck_seconds = 0
    assert (await client.get("/v1/topics?kind=care&limit=100")).json()["total"] == first + 1


async def test_the_cache_is_bounded_and_drops_stale_versions(knowledge: Knowledge) -> None:
    from knowledge.api.app import CachedBody  # noqa: PLC0415

    cache = ContentCache(knowledge.watch)
    version = await cache.current()
    big = CachedBody.of(b"x" * (CACHE_MAX_BYTES // 2 + 1), "public")
    cache.put(("/a", b""), version, big)
    cache.put(("/b", b""), version, big)  # over the bound: starts afresh with /b only
    assert cache.get(("/a", b"")) is None
    assert cache.get(("/b", b"")) is big
    cache.put(("/c", b""), version - 1, big)  # made from older content: not kept
    assert cache.get(("/c", b"")) is None


# ---- settings ----------------------------------------------------------------------------------


def test_settings_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CRAMPBOT_API_HOST", "CRAMPBOT_API_PORT", "CRAMPBOT_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    defaults = ApiSettings(_env_file=None)
    assert (defaults.host, defaults.port, defaults.token) == ("127.0.0.1", 8080, None)
    assert not defaults.writes_enabled
    monkeypatch.setenv("CRAMPBOT_API_HOST", "0.0.0.0")
    monkeypatch.setenv("CRAMPBOT_API_PORT", "9090")
    monkeypatch.setenv("CRAMPBOT_API_TOKEN", "s3cret")
    settings = ApiSettings(_env_file=None)
    assert (settings.host, settings.port) == ("0.0.0.0", 9090)
    assert settings.token is not None and settings.token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    monkeypatch.setenv("CRAMPBOT_API_TOKEN", "  ")
    assert ApiSettings(_env_file=None).token is None


def test_the_page_default_never_exceeds_the_maximum() -> None:
    settings = api_settings(CRAMPBOT_API_MAX_PAGE_SIZE=5)
    assert settings.page_default() == 5


async def test_building_the_app_starts_nothing_and_touches_no_globals(
    knowledge: Knowledge,
) -> None:
    one = create_app(knowledge, api_settings())
    two = create_app(knowledge, api_settings(CRAMPBOT_API_TOKEN=None))
    assert one is not two
    assert one.openapi() == two.openapi()
    assert await knowledge.store.content_version() > 0


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/tips"), ("PUT", "/v1/tips/x")])
async def test_a_malformed_body_without_a_token_is_a_401_not_a_422(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    """The token is checked before the body is read: an anonymous caller learns nothing more."""
    broken = {"content": b"{not json", "headers": {"content-type": "application/json"}}
    response = await client.request(method, path, **broken)  # type: ignore[arg-type]
    assert_error(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    with_token = {**broken, "headers": {**broken["headers"], **AUTH}}  # type: ignore[dict-item]
    assert_error(await client.request(method, path, **with_token), 422)  # type: ignore[arg-type]


async def test_options_advertises_only_the_methods_a_url_has(client: httpx.AsyncClient) -> None:
    random = await client.options("/v1/tips/random")
    assert random.status_code == 405 and random.headers["allow"] == "GET"
    assert (await client.delete("/v1/tips/random", headers=AUTH)).status_code == 405
    item = await client.options("/v1/tips/some-tip")
    assert item.headers["allow"] == "DELETE, GET, PUT"


async def test_a_database_that_cannot_be_written_is_a_clear_503_and_shows_in_healthz(
    client: httpx.AsyncClient, knowledge: Knowledge
) -> None:
    # A real SQLite state, not a mock: the writer connection refuses every write, as a
    # read-only file or a full disk makes it.
    await knowledge.db.writer.execute("PRAGMA query_only = 1")
    try:
        refused = assert_error(await client.post("/v1/tips", json=new_tip(), headers=AUTH), 503)
        assert (
            "cannot be written" in refused["message"]
            and "nothing was changed" in refused["message"]
        )
        health = (await client.get("/healthz")).json()
        assert health["status"] == "ok" and "readonly" in (health["write_error"] or "")
    finally:
        await knowledge.db.writer.execute("PRAGMA query_only = 0")
    assert_error(await client.get("/v1/tips/api-made-tip"), 404)  # nothing was half-written
    assert (await client.post("/v1/tips", json=new_tip(), headers=AUTH)).status_code == 201
    assert (await client.get("/healthz")).json()["write_error"] is None
