"""`export_seeds`: the whole store back out as seed files that read back to the same models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from knowledge.checks import SHIPPED_POLICY, check_content
from knowledge.export import (
    API_NOTE,
    ExportError,
    export_seeds,
    read_content,
    roundtrip_differences,
    tips_yaml,
    topic_markdown,
    topic_seed_problems,
)
from knowledge.loader import Content, load_seeds
from knowledge.models import Origin, Tip, Topic
from knowledge.runtime import Knowledge, check_seeds

SOURCES = """\
- id: test-source
  title: A test source
  publisher: Test Publisher
  url: https://example.org/cramps
"""


def api_topic(**changes: Any) -> Topic:
    data: dict[str, Any] = {
        "slug": "api-made-topic",
        "kind": "care",
        "title": 'Colons: "quotes", #hashes & a trailing space?',
        "aliases": ["yes", "null", "- dash first", "3.14", "ünïcödé ✓"],
        "summary": "A summary with 'single' and \"double\" quotes: and a colon.",
        "sections": [
            {"heading": "What it is", "body": "First line.\n\n- a list\n- of things\n\n---"},
            {"heading": "What to do now", "body": "1. Numbered\n2. Steps\n\n  indented"},
        ],
        "related": ["calf-cramp"],
        "stretches": ["standing-calf-stretch"],
        "evidence": {"level": "limited", "note": "Small trials only."},
        "sources": ["nhs-inform-leg-cramps"],
        "origin": "api",
    }
    return Topic.model_validate({**data, **changes})


async def test_the_shipped_store_exports_to_seeds_kb_check_accepts(
    knowledge: Knowledge, tmp_path: Path
) -> None:
    out = tmp_path / "exported"
    report = await export_seeds(knowledge.store, out)
    content = await read_content(knowledge.store)
    assert report.topics == len(content.topics) and report.tips == len(content.tips)
    assert report.from_api == 0 and report.problems == []
    assert report.files == len([p for p in out.rglob("*") if p.is_file()])
    for name in ("sources.yaml", "red_flags.yaml", "synonyms.yaml", "scope.yaml"):
        assert (out / name).is_file()
    loaded, problems = load_seeds(out)
    assert problems == []
    assert roundtrip_differences(content, loaded) == []
    assert loaded.synonyms.as_mapping() == content.synonyms.as_mapping()
    assert loaded.scope == content.scope
    assert check_seeds(out, SHIPPED_POLICY) == []


async def test_api_made_content_is_exported_and_rebuilds_to_the_same_store(
    knowledge: Knowledge, tmp_path: Path
) -> None:
    await knowledge.store.save_topic(api_topic())
    tip = Tip(
        id="api-made-tip",
        kind="massage",  # type: ignore[arg-type]
        text="Line one: with a colon\nand a second line # not a comment",
        sources=["nhs-inform-leg-cramps"],
    )
    await knowledge.store.save_tip(tip)
    out = tmp_path / "exported"
    report = await export_seeds(knowledge.store, out)
    assert report.from_api == 2
    assert API_NOTE in (out / "topics" / "api-made-topic.md").read_text()
    assert API_NOTE in (out / "tips" / "massage.yaml").read_text()

    # Build a brand-new store from the exported seeds: it holds the same content.
    before = await read_content(knowledge.store)
    rebuilt = await Knowledge.open(tmp_path / "rebuilt.db")
    try:
        await rebuilt.build(out)
        after = await read_content(rebuilt.store)
    finally:
        await rebuilt.close()
    assert roundtrip_differences(before, after) == []
    made = next(t for t in after.topics if t.slug == "api-made-topic")
    assert made.origin is Origin.SEED  # exported files are seeds from now on
    assert made == api_topic().model_copy(update={"origin": Origin.SEED})


async def test_a_folder_with_files_is_refused_unless_replacing(
    knowledge: Knowledge, tmp_path: Path
) -> None:
    out = tmp_path / "seeds"
    (out / "topics").mkdir(parents=True)
    (out / "README.md").write_text("keep me")
    stale = out / "topics" / "gone-topic.md"
    stale.write_text("old")
    with pytest.raises(ExportError, match="not empty"):
        await export_seeds(knowledge.store, out)
    assert stale.read_text() == "old"
    await export_seeds(knowledge.store, out, replace=True)
    assert (out / "README.md").read_text() == "keep me"
    assert not stale.exists()
    assert load_seeds(out)[1] == []
    # An empty folder is fine without replacing.
    empty = tmp_path / "empty"
    empty.mkdir()
    await export_seeds(knowledge.store, empty)
    assert (empty / "topics" / "calf-cramp.md").is_file()


async def test_content_that_would_not_read_back_is_refused_and_nothing_is_written(
    knowledge: Knowledge, tmp_path: Path
) -> None:
    sneaky = api_topic(
        sections=[{"heading": "What it is", "body": "Fine.\n## What to do now\nNot a section."}]
    )
    assert topic_seed_problems(sneaky)
    await knowledge.store.save_topic(sneaky)  # the store itself does not check this
    out = tmp_path / "exported"
    with pytest.raises(ExportError, match="api-made-topic"):
        await export_seeds(knowledge.store, out)
    assert not out.exists()


def test_topic_seed_problems_name_the_section_and_why() -> None:
    assert topic_seed_problems(api_topic()) == []
    problems = topic_seed_problems(
        api_topic(
            sections=[
                {"heading": "What it is", "body": "ok"},
                {"heading": "What to do now", "body": "a\r\nb\n##   Looks like a heading"},
            ]
        )
    )
    assert [field for field, _ in problems] == ["sections.1.body", "sections.1.body"]
    assert "line breaks" in problems[0][1]
    assert "line 2" in problems[1][1]  # bodies are stored unwrapped: "a\r b" is line 1
    # "##" without a space, or "#", is ordinary Markdown inside a section.
    assert (
        topic_seed_problems(api_topic(sections=[{"heading": "What it is", "body": "##x\n# y"}]))
        == []
    )


# ---- any text survives the trip --------------------------------------------------------------

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),
    min_size=1,
    max_size=60,
)


def _roundtrip(tmp_path: Path, topic: Topic, tips: list[Tip]) -> Content:
    root = tmp_path / "seeds"
    (root / "topics").mkdir(parents=True, exist_ok=True)
    (root / "tips").mkdir(exist_ok=True)
    (root / "sources.yaml").write_text(SOURCES, encoding="utf-8")
    (root / "red_flags.yaml").write_text("", encoding="utf-8")
    (root / "topics" / f"{topic.slug}.md").write_text(topic_markdown(topic), encoding="utf-8")
    (root / "tips" / "general.yaml").write_text(tips_yaml(tips), encoding="utf-8")
    loaded, problems = load_seeds(root)
    assert problems == [], problems
    return loaded


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(title=_text, summary=_text, alias=_text, body=_text, tip_text=_text)
def test_any_valid_text_reads_back_exactly(
    tmp_path: Path, title: str, summary: str, alias: str, body: str, tip_text: str
) -> None:
    try:
        topic = Topic(
            slug="fuzzed",
            kind="care",  # type: ignore[arg-type]
            title=title,
            aliases=[alias],
            summary=summary,
            sections=[{"heading": "What it is", "body": body}],  # type: ignore[list-item]
            sources=["test-source"],
        )
        tip = Tip(id="fuzzed-tip", kind="general", text=tip_text, sources=["test-source"])  # type: ignore[arg-type]
    except ValidationError:
        return  # not valid content to begin with (blank after stripping, too long...)
    if topic_seed_problems(topic):
        return  # the API refuses these before they reach the store
    loaded = _roundtrip(tmp_path, topic, [tip])
    assert loaded.topics == [topic]
    assert loaded.tips == [tip]


async def test_exported_content_passes_the_cross_file_checks(
    knowledge: Knowledge, tmp_path: Path
) -> None:
    out = tmp_path / "exported"
    await export_seeds(knowledge.store, out)
    loaded, _ = load_seeds(out)
    assert check_content(loaded) == []
