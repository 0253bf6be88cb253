"""The SQLite store: migrations, atomic and idempotent rebuilds, run-time rows that survive."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from knowledge.db import Database, DatabaseError, Migration, bundled_migrations
from knowledge.loader import load_seeds
from knowledge.models import Origin, Tip, TipKind
from knowledge.runtime import ContentError, Knowledge
from knowledge.store import KnowledgeStore
from tests.seedfactory import write_seeds


async def test_new_database_gets_every_migration_and_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "crampbot.db"
    async with await Database.open(path) as db:
        assert await db.schema_version() == len(bundled_migrations())
        journal = await db.reader.execute_fetchall("PRAGMA journal_mode")
        foreign_keys = await db.writer.execute_fetchall("PRAGMA foreign_keys")
        busy = await db.writer.execute_fetchall("PRAGMA busy_timeout")
        assert [tuple(r) for r in journal] == [("wal",)]
        assert [tuple(r) for r in foreign_keys] == [(1,)]
        assert next(iter(busy))[0] >= 1000
    # Opening again applies nothing new.
    async with await Database.open(path) as db:
        assert await db.migrate() == []
        rows = await db.reader.execute_fetchall("SELECT version, name FROM schema_migrations")
        assert [tuple(r) for r in rows] == [(m.version, m.name) for m in bundled_migrations()]


async def test_failed_migration_rolls_back_and_says_which(tmp_path: Path) -> None:
    path = tmp_path / "crampbot.db"
    shipped = bundled_migrations()
    broken = [*shipped, Migration(len(shipped) + 1, "broken", "CREATE TABLE extra (x); SELEC 1;")]
    async with await Database.open(path, migrate=False) as db:
        with pytest.raises(DatabaseError, match=f"{len(shipped) + 1:04d}_broken"):
            await db.migrate(broken)
        assert await db.schema_version() == len(bundled_migrations())
        tables = await db.reader.execute_fetchall(
            "SELECT name FROM sqlite_master WHERE name = 'extra'"
        )
        assert list(tables) == []


async def test_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "crampbot.db"
    async with await Database.open(path) as db:
        await db.writer.execute(
            "INSERT INTO schema_migrations VALUES (99, 'future', '2030-01-01T00:00:00')"
        )
    with pytest.raises(DatabaseError, match="newer than this crampbot"):
        await Database.open(path)


async def test_unopenable_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DatabaseError, match="cannot open the database"):
        await Database.open(blocker / "crampbot.db")


async def _dump(db: Database) -> list[tuple[object, ...]]:
    rows = await db.reader.execute_fetchall(
        "SELECT 'topic', slug, data FROM topics UNION ALL SELECT 'stretch', slug, data FROM "
        "stretches UNION ALL SELECT 'tip', tip_id, data FROM tips UNION ALL "
        "SELECT 'flag', id, data FROM red_flags ORDER BY 1, 2"
    )
    return [tuple(r) for r in rows]


async def test_rebuild_is_idempotent(tmp_path: Path, seeds_dir: Path) -> None:
    knowledge = await Knowledge.open(tmp_path / "crampbot.db")
    try:
        first = await knowledge.build(seeds_dir)
        before = await _dump(knowledge.db)
        second = await knowledge.build(seeds_dir)
        assert await _dump(knowledge.db) == before
        assert first.changed and not second.changed
        assert second.topics == first.topics > 0
        assert await knowledge.store.count_topics() == first.topics
    finally:
        await knowledge.close()


async def test_rows_made_at_run_time_survive_rebuilds(tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds")
    knowledge = await Knowledge.open(tmp_path / "crampbot.db")
    try:
        await knowledge.build(seeds)
        seed_topic = await knowledge.store.topic("calf-cramp")
        assert seed_topic is not None
        api_topic = seed_topic.model_copy(
            update={"slug": "hand-cramp", "title": "Hand cramp", "aliases": ["writers cramp"]}
        )
        await knowledge.store.save_topic(api_topic)
        await knowledge.store.save_tip(
            Tip(
                id="api-tip",
                kind=TipKind.GENERAL,
                text="Made through the API.",
                sources=["test-source"],
            )
        )
        report = await knowledge.build(seeds)
        assert report.kept_from_api == 2
        kept = await knowledge.store.topic("hand-cramp")
        assert kept is not None and kept.origin is Origin.API
        tip = await knowledge.store.tip("api-tip")
        assert tip is not None and tip.origin is Origin.API
        # ...and search still finds the run-time topic after the rebuild.
        results = await knowledge.search.search("writers cramp")
        assert results and results[0].slug == "hand-cramp"
    finally:
        await knowledge.close()


async def test_a_source_cited_by_run_time_content_is_kept(tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds")
    knowledge = await Knowledge.open(tmp_path / "crampbot.db")
    try:
        await knowledge.build(seeds)
        await knowledge.store.save_tip(
            Tip(
                id="api-tip",
                kind=TipKind.GENERAL,
                text="Cites the test source.",
                sources=["test-source"],
            )
        )
        # A new seed set that no longer lists the source: the citation keeps it alive.
        content, problems = load_seeds(seeds)
        assert problems == []
        content.sources.clear()
        content.topics.clear()
        content.stretches.clear()
        content.tips.clear()
        content.red_flags.clear()
        await knowledge.store.rebuild(content)
        assert [s.id for s in await knowledge.store.sources()] == ["test-source"]
    finally:
        await knowledge.close()


async def test_broken_seeds_never_touch_the_store(tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds")
    knowledge = await Knowledge.open(tmp_path / "crampbot.db")
    try:
        await knowledge.build(seeds)
        before = await _dump(knowledge.db)
        (seeds / "topics" / "calf-cramp.md").write_text("---\nslug: calf-cramp\n---\n")
        with pytest.raises(ContentError) as raised:
            await knowledge.build(seeds)
        assert any("calf-cramp.md" in p.file for p in raised.value.problems)
        assert await _dump(knowledge.db) == before
    finally:
        await knowledge.close()


async def test_foreign_keys_protect_citations(tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "seeds")
    knowledge = await Knowledge.open(tmp_path / "crampbot.db")
    try:
        await knowledge.build(seeds)
        with pytest.raises(sqlite3.IntegrityError):
            async with knowledge.db.transaction() as conn:
                await conn.execute("DELETE FROM sources WHERE id = 'test-source'")
    finally:
        await knowledge.close()


async def test_reader_sees_old_or_new_content_never_a_mix(tmp_path: Path) -> None:
    """Rebuilds alternate between two content sets while another connection keeps reading."""
    small, _ = load_seeds(write_seeds(tmp_path / "small"))
    large, _ = load_seeds(write_seeds(tmp_path / "large", slug="foot-cramp", title="Foot cramp"))
    large.tips.extend(
        t.model_copy(update={"id": f"extra-{i}"}) for i in range(50) for t in small.tips[:1]
    )
    path = tmp_path / "crampbot.db"
    writer_db = await Database.open(path)
    reader_db = await Database.open(path)
    writer = KnowledgeStore(writer_db)
    await writer.rebuild(small)
    allowed = {("calf-cramp", len(small.tips)), ("foot-cramp", len(large.tips))}
    seen: set[tuple[str, int]] = set()
    stop = asyncio.Event()

    async def read_forever() -> None:
        while not stop.is_set():
            async with reader_db.snapshot() as conn:
                slugs = [r[0] for r in await conn.execute_fetchall("SELECT slug FROM topics")]
                tips = next(iter(await conn.execute_fetchall("SELECT COUNT(*) FROM tips")))[0]
            assert len(slugs) == 1, slugs
            seen.add((slugs[0], tips))
            await asyncio.sleep(0)

    reader = asyncio.create_task(read_forever())
    try:
        for round_number in range(20):
            await writer.rebuild(large if round_number % 2 == 0 else small)
            await asyncio.sleep(0.001)
    finally:
        stop.set()
        await reader
        await reader_db.close()
        await writer_db.close()
    assert seen <= allowed
    assert len(seen) == 2, "the reader should have seen both versions"


async def test_online_backup_while_writing(tmp_path: Path) -> None:
    small, _ = load_seeds(write_seeds(tmp_path / "small"))
    large, _ = load_seeds(write_seeds(tmp_path / "large", slug="foot-cramp", title="Foot cramp"))
    path = tmp_path / "crampbot.db"
    writer_db = await Database.open(path)
    reader_db = await Database.open(path)
    writer = KnowledgeStore(writer_db)
    await writer.rebuild(small)
    stop = asyncio.Event()

    async def keep_writing() -> None:
        flip = False
        while not stop.is_set():
            await writer.rebuild(large if flip else small)
            flip = not flip
            await asyncio.sleep(0)

    task = asyncio.create_task(keep_writing())
    try:
        copies = []
        for number in range(5):
            target = tmp_path / "backups" / f"copy-{number}.db"
            assert await reader_db.backup(target) > 0
            copies.append(target)
    finally:
        stop.set()
        await task
        await reader_db.close()
        await writer_db.close()
    for target in copies:
        async with await Database.open(target) as copy:
            check = await copy.reader.execute_fetchall("PRAGMA integrity_check")
            assert [tuple(r) for r in check] == [("ok",)]
            slugs = [r[0] for r in await copy.reader.execute_fetchall("SELECT slug FROM topics")]
            assert slugs in (["calf-cramp"], ["foot-cramp"])
    assert not list((tmp_path / "backups").glob(".*partial"))


async def test_signpost_migration_keeps_every_topic_row_and_citation(tmp_path: Path) -> None:
    """0003 rebuilds `topics`; with foreign keys on, DROP TABLE would cascade the citations away."""
    shipped = bundled_migrations()
    content, problems = load_seeds(write_seeds(tmp_path / "seeds"))
    assert problems == []
    counts = (
        "SELECT (SELECT count(*) FROM topics), (SELECT count(*) FROM topic_sources), "
        "(SELECT count(*) FROM topic_phrases)"
    )
    async with await Database.open(tmp_path / "crampbot.db", migrate=False) as db:
        await db.migrate([m for m in shipped if m.version < 3])
        await KnowledgeStore(db).rebuild(content)
        before = [tuple(r) for r in await db.reader.execute_fetchall(counts)]
        assert before[0][0] > 0 and before[0][1] > 0 and before[0][2] > 0
        assert await db.migrate() == [m.version for m in shipped if m.version >= 3]
        assert [tuple(r) for r in await db.reader.execute_fetchall(counts)] == before
        await db.writer.execute("UPDATE topics SET kind = 'signpost'")
        assert list(await db.writer.execute_fetchall("PRAGMA foreign_key_check")) == []


def test_a_readonly_database_is_reported_as_a_permissions_problem(tmp_path: Path) -> None:
    from knowledge.db import _explain  # noqa: PLC0415 - the message is the unit under test

    message = _explain(
        tmp_path / "data" / "crampbot.db",
        sqlite3.OperationalError("attempt to write a readonly database"),
    )
    assert "is not writable by user" in message and "chown -R" in message
    assert "not a usable SQLite database" not in message
    other = _explain(tmp_path / "x.db", sqlite3.DatabaseError("file is not a database"))
    assert "is not a usable SQLite database" in other
