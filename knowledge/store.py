"""The knowledge store: the only place that reads and writes content rows.

Everything above this module (search, the bot, the API) gets pydantic models, never rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiosqlite
from pydantic import ValidationError

from knowledge.db import Database
from knowledge.loader import Content
from knowledge.models import (
    Origin,
    RedFlagRule,
    Scope,
    SearchResult,
    Source,
    Stretch,
    Tip,
    TipKind,
    Topic,
    TopicKind,
)
from knowledge.synonyms import SynonymTable
from knowledge.text import normalize, phrase_key, words

log = logging.getLogger(__name__)

# The tokenizer of `topic_fts` (migration 0001); the stem probe must use the same one.
TOKENIZER = "porter unicode61 remove_diacritics 2"
CONTENT_VERSION = "content_version"
SEED_HASH = "seed_hash"
SCOPE = "scope"
TRIAGE_TERMS = "triage_terms"


@dataclass(frozen=True)
class BuildReport:
    sources: int
    topics: int
    stretches: int
    tips: int
    red_flags: int
    kept_from_api: int
    changed: bool


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def content_hash(content: Content) -> str:
    """A fingerprint of the seeds, recorded so `kb build` can say whether anything changed."""
    digest = hashlib.sha256()
    for group in (content.sources, content.topics, content.stretches, content.tips):
        for item in group:
            digest.update(item.model_dump_json().encode())
    for rule in content.red_flags:
        digest.update(rule.model_dump_json().encode())
    digest.update(json.dumps(content.synonyms.as_mapping(), sort_keys=True).encode())
    digest.update(content.scope.model_dump_json().encode())
    digest.update(json.dumps(content.triage_terms, sort_keys=True).encode())
    return digest.hexdigest()


def _topic_search_row(topic: Topic) -> tuple[str, str, str, str]:
    body = "\n".join(section.body for section in topic.sections)
    return topic.title, " | ".join(topic.aliases), topic.summary, body


async def _bump_version(conn: aiosqlite.Connection) -> None:
    await conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, '1') "
        "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
        (CONTENT_VERSION,),
    )


async def _insert_topic(conn: aiosqlite.Connection, topic: Topic) -> None:
    cursor = await conn.execute(
        "INSERT INTO topics (slug, kind, title, origin, data, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            topic.slug,
            topic.kind.value,
            topic.title,
            topic.origin.value,
            topic.model_dump_json(),
            _now(),
        ),
    )
    topic_id = cursor.lastrowid
    await conn.executemany(
        "INSERT INTO topic_sources (topic_id, source_id) VALUES (?, ?)",
        [(topic_id, source) for source in topic.sources],
    )
    await conn.execute(
        "INSERT INTO topic_fts (rowid, title, aliases, summary, body) VALUES (?, ?, ?, ?, ?)",
        (topic_id, *_topic_search_row(topic)),
    )
    phrases = {phrase_key(text) for text in [topic.title, *topic.aliases]} - {""}
    await conn.executemany(
        "INSERT INTO topic_phrases (phrase, topic_id) VALUES (?, ?)",
        [(phrase, topic_id) for phrase in sorted(phrases)],
    )


async def _delete_topics(conn: aiosqlite.Connection, where: str, params: tuple[Any, ...]) -> None:
    await conn.execute(
        f"DELETE FROM topic_fts WHERE rowid IN (SELECT id FROM topics WHERE {where})",  # noqa: S608
        params,
    )
    await conn.execute(f"DELETE FROM topics WHERE {where}", params)  # noqa: S608


async def _insert_stretch(conn: aiosqlite.Connection, stretch: Stretch) -> None:
    cursor = await conn.execute(
        "INSERT INTO stretches (slug, title, origin, data, updated_at) VALUES (?, ?, ?, ?, ?)",
        (stretch.slug, stretch.title, stretch.origin.value, stretch.model_dump_json(), _now()),
    )
    await conn.executemany(
        "INSERT INTO stretch_sources (stretch_id, source_id) VALUES (?, ?)",
        [(cursor.lastrowid, source) for source in stretch.sources],
    )


async def _insert_tip(conn: aiosqlite.Connection, tip: Tip) -> None:
    cursor = await conn.execute(
        "INSERT INTO tips (tip_id, kind, origin, data, updated_at) VALUES (?, ?, ?, ?, ?)",
        (tip.id, tip.kind.value, tip.origin.value, tip.model_dump_json(), _now()),
    )
    await conn.executemany(
        "INSERT INTO tip_sources (tip_id, source_id) VALUES (?, ?)",
        [(cursor.lastrowid, source) for source in tip.sources],
    )


async def _refresh_search_words(conn: aiosqlite.Connection) -> None:
    """Recompute the search vocabulary from every topic (seed and API alike).

    Each word keeps how many topics FTS5 will match for it. FTS5 matches the Porter stem
    ("legs" matches "leg" too), so the count comes from FTS5's own vocabulary, through a
    throw-away FTS5 table with the same tokenizer that tells which stem each word has.
    """
    head: set[str] = set()
    every: set[str] = set()
    async with conn.execute("SELECT title, aliases, summary, body FROM topic_fts") as cursor:
        async for title, aliases, summary, body in cursor:
            head_words = set(words(normalize(f"{title} {aliases} {summary}")))
            head.update(head_words)
            every.update(head_words, words(normalize(body)))
    ordered = sorted(every)
    await conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.stem_probe"
        f" USING fts5(word, tokenize='{TOKENIZER}')"
    )
    await conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.stem_probe_terms"
        " USING fts5vocab(temp, stem_probe, instance)"
    )
    await conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.topic_terms USING fts5vocab(main, topic_fts, row)"
    )
    await conn.execute("DELETE FROM temp.stem_probe")
    await conn.executemany(
        "INSERT INTO temp.stem_probe (rowid, word) VALUES (?, ?)", enumerate(ordered, start=1)
    )
    rows = await conn.execute_fetchall(
        "SELECT p.doc, COALESCE(t.doc, 0) FROM temp.stem_probe_terms p"
        " LEFT JOIN temp.topic_terms t ON t.term = p.term"
    )
    docs = {ordered[int(rowid) - 1]: int(count) for rowid, count in rows}
    await conn.execute("DELETE FROM temp.stem_probe")
    await conn.execute("DELETE FROM search_words")
    await conn.executemany(
        "INSERT INTO search_words (word, head, docs) VALUES (?, ?, ?)",
        [(word, 1 if word in head else 0, docs.get(word, 0)) for word in ordered],
    )


def match_expression(terms: Sequence[str], *, names_only: bool = False) -> str:
    """The FTS5 MATCH for any of `terms`, optionally in titles and aliases only.

    Terms are [a-z0-9] words and go in quoted, so nothing a user typed is ever FTS5 syntax.
    """
    match = " OR ".join(f'"{term}"' for term in terms)
    return f"{{title aliases}} : ({match})" if names_only else match


class VersionWatch:
    """A cheap "has the content changed?" for in-memory caches (search, rendered answers).

    Writes through this process's store are seen at once; writes by another process (a `kb
    build` beside a running bot) within `recheck_seconds`. Asking SQLite on every read would
    cost a thread hop for a change that happens about once a day.
    """

    def __init__(self, store: KnowledgeStore, recheck_seconds: float = 2.0) -> None:
        self.store = store
        self.recheck_seconds = recheck_seconds
        self._version: int | None = None
        self._local_writes = -1
        self._checked_at = -math.inf
        self._checks = 0
        self._lock = asyncio.Lock()

    async def version(self) -> int:
        now = time.monotonic()
        if (
            self._version is not None
            and self._local_writes == self.store.local_writes
            and now - self._checked_at < self.recheck_seconds
        ):
            return self._version
        checks = self._checks
        async with self._lock:
            # Another task asked SQLite while this one waited: that answer is recent enough
            # (seconds-old is the contract), so a crowd at the recheck moment costs one query.
            if self._checks != checks and self._local_writes == self.store.local_writes:
                assert self._version is not None
                return self._version
            local_writes = self.store.local_writes
            self._version = await self.store.content_version()
            self._local_writes = local_writes
            self._checked_at = now
            self._checks += 1
            return self._version


class KnowledgeStore:
    """Reads and writes content; returns models."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # Bumped on every content write through this store, so caches in this process can tell
        # at once, without asking SQLite, that they are stale.
        self.local_writes = 0

    # ---- building from seeds -------------------------------------------------------------

    async def rebuild(self, content: Content) -> BuildReport:
        """Replace all seed content with `content` in one transaction; API rows are kept.

        Readers on other connections see the old content until the commit, then the new.
        """
        fingerprint = content_hash(content)
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT value FROM meta WHERE key = ?", (SEED_HASH,)) as cur:
                row = await cur.fetchone()
            changed = row is None or row[0] != fingerprint
            seed = (Origin.SEED.value,)
            await _delete_topics(conn, "origin = ?", seed)
            await conn.execute("DELETE FROM stretches WHERE origin = ?", seed)
            await conn.execute("DELETE FROM tips WHERE origin = ?", seed)
            await conn.execute("DELETE FROM red_flags")
            await conn.execute("DELETE FROM synonyms")
            await conn.executemany(
                "INSERT INTO sources (id, title, publisher, url) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET title = excluded.title, "
                "publisher = excluded.publisher, url = excluded.url",
                [(s.id, s.title, s.publisher, str(s.url)) for s in content.sources],
            )
            # API rows whose slug now also exists in seeds give way to the reviewed seed version.
            await _delete_topics(
                conn,
                "slug IN (SELECT value FROM json_each(?))",
                (json.dumps([t.slug for t in content.topics]),),
            )
            await conn.execute(
                "DELETE FROM stretches WHERE slug IN (SELECT value FROM json_each(?))",
                (json.dumps([s.slug for s in content.stretches]),),
            )
            await conn.execute(
                "DELETE FROM tips WHERE tip_id IN (SELECT value FROM json_each(?))",
                (json.dumps([t.id for t in content.tips]),),
            )
            for topic in content.topics:
                await _insert_topic(conn, topic.model_copy(update={"origin": Origin.SEED}))
            for stretch in content.stretches:
                await _insert_stretch(conn, stretch.model_copy(update={"origin": Origin.SEED}))
            for tip in content.tips:
                await _insert_tip(conn, tip.model_copy(update={"origin": Origin.SEED}))
            await conn.executemany(
                "INSERT INTO red_flags (id, position, data) VALUES (?, ?, ?)",
                [(r.id, i, r.model_dump_json()) for i, r in enumerate(content.red_flags)],
            )
            await conn.executemany(
                "INSERT INTO synonyms (variant, canonical) VALUES (?, ?)",
                [(v, " ".join(c)) for v, c in content.synonyms.variants.items()],
            )
            # Sources nobody cites any more, and that no seed lists, can go.
            await conn.execute(
                "DELETE FROM sources WHERE id NOT IN (SELECT value FROM json_each(?)) "
                "AND id NOT IN (SELECT source_id FROM topic_sources) "
                "AND id NOT IN (SELECT source_id FROM stretch_sources) "
                "AND id NOT IN (SELECT source_id FROM tip_sources)",
                (json.dumps([s.id for s in content.sources]),),
            )
            await _refresh_search_words(conn)
            await conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [
                    (SEED_HASH, fingerprint),
                    (SCOPE, content.scope.model_dump_json()),
                    (TRIAGE_TERMS, json.dumps(content.triage_terms)),
                ],
            )
            await _bump_version(conn)
            async with conn.execute(
                "SELECT (SELECT COUNT(*) FROM topics WHERE origin = 'api')"
                " + (SELECT COUNT(*) FROM stretches WHERE origin = 'api')"
                " + (SELECT COUNT(*) FROM tips WHERE origin = 'api')"
            ) as cur:
                kept_row = await cur.fetchone()
        self.local_writes += 1
        return BuildReport(
            sources=len(content.sources),
            topics=len(content.topics),
            stretches=len(content.stretches),
            tips=len(content.tips),
            red_flags=len(content.red_flags),
            kept_from_api=int(kept_row[0]) if kept_row else 0,
            changed=changed,
        )

    # ---- run-time writes (the content API) ---------------------------------------------------

    async def save_topic(self, topic: Topic) -> Topic:
        """Create or replace a topic made at run time; it survives rebuilds from seeds."""
        topic = topic.model_copy(update={"origin": Origin.API})
        async with self.db.transaction() as conn:
            await _delete_topics(conn, "slug = ?", (topic.slug,))
            await _insert_topic(conn, topic)
            await _refresh_search_words(conn)
            await _bump_version(conn)
        self.local_writes += 1
        return topic

    async def delete_topic(self, slug: str) -> bool:
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT 1 FROM topics WHERE slug = ?", (slug,)) as cursor:
                found = await cursor.fetchone() is not None
            if found:
                await _delete_topics(conn, "slug = ?", (slug,))
                await _refresh_search_words(conn)
                await _bump_version(conn)
        self.local_writes += 1
        return found

    async def save_tip(self, tip: Tip) -> Tip:
        """Create or replace a tip made at run time; it survives rebuilds from seeds."""
        tip = tip.model_copy(update={"origin": Origin.API})
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM tips WHERE tip_id = ?", (tip.id,))
            await _insert_tip(conn, tip)
            await _bump_version(conn)
        self.local_writes += 1
        return tip

    async def delete_tip(self, tip_id: str) -> bool:
        async with self.db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM tips WHERE tip_id = ?", (tip_id,))
            found = cursor.rowcount > 0
            if found:
                await _bump_version(conn)
        self.local_writes += 1
        return found

    # ---- reading ---------------------------------------------------------------------------

    async def _scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        async with self.db.reader.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        return row[0] if row else None

    async def content_version(self) -> int:
        # A primary-key read, asked by every cache in turn: in the loop, not the worker thread.
        rows = await self.db.quick_rows("SELECT value FROM meta WHERE key = ?", (CONTENT_VERSION,))
        return int(rows[0][0]) if rows else 0

    async def is_empty(self) -> bool:
        return not await self._scalar("SELECT EXISTS (SELECT 1 FROM topics)")

    async def topic(self, slug: str) -> Topic | None:
        data = await self._scalar("SELECT data FROM topics WHERE slug = ?", (slug,))
        return Topic.model_validate_json(data) if data else None

    async def topics(
        self, kind: TopicKind | None = None, *, limit: int = 1000, offset: int = 0
    ) -> list[Topic]:
        sql = "SELECT data FROM topics"
        params: tuple[Any, ...] = ()
        if kind is not None:
            sql += " WHERE kind = ?"
            params = (kind.value,)
        sql += " ORDER BY slug LIMIT ? OFFSET ?"
        async with self.db.reader.execute(sql, (*params, limit, offset)) as cursor:
            return [Topic.model_validate_json(row[0]) async for row in cursor]

    async def count_topics(self, kind: TopicKind | None = None) -> int:
        if kind is None:
            return int(await self._scalar("SELECT COUNT(*) FROM topics"))
        return int(await self._scalar("SELECT COUNT(*) FROM topics WHERE kind = ?", (kind.value,)))

    async def topics_by_slugs(self, slugs: list[str]) -> list[Topic]:
        """Topics in the order of `slugs`, skipping any that do not exist."""
        async with self.db.reader.execute(
            "SELECT data FROM topics WHERE slug IN (SELECT value FROM json_each(?))",
            (json.dumps(slugs),),
        ) as cursor:
            found = {
                t.slug: t async for t in (Topic.model_validate_json(r[0]) async for r in cursor)
            }
        return [found[slug] for slug in slugs if slug in found]

    async def rank_topics(
        self, match: str, weights: tuple[float, float, float, float], limit: int | None
    ) -> list[tuple[int, float]]:
        """(topic id, score) for topics matching an FTS5 expression, best BM25 first.

        Scores are made positive; `limit` None keeps every match. Ranking happens inside the FTS
        table, without a join: the caller knows each topic's slug, title and kind from memory.
        """
        rows = await self.db.quick_rows(
            "SELECT rowid, -bm25(topic_fts, ?, ?, ?, ?) AS score FROM topic_fts"
            " WHERE topic_fts MATCH ? ORDER BY score DESC LIMIT ?",
            (*weights, match, -1 if limit is None else limit),
        )
        return [(int(topic_id), float(score)) for topic_id, score in rows]

    async def term_scores(
        self, term: str, weights: tuple[float, float, float, float], *, names_only: bool = False
    ) -> list[tuple[int, float]]:
        """Every topic containing `term` (a plain [a-z0-9] word), with that word's BM25 share.

        FTS5's bm25() of an OR of words is the sum, word by word, of each word's own score
        (its IDF depends on the word alone), so search can add these up instead of asking
        SQLite again for every question. `names_only` looks in titles and aliases only.
        """
        return await self.rank_topics(
            match_expression([term], names_only=names_only), weights, None
        )

    async def topic_heads(self) -> dict[int, SearchResult]:
        """Every topic's id, slug, title and kind (score 0), for search to keep in memory."""
        rows = await self.db.reader.execute_fetchall("SELECT id, slug, title, kind FROM topics")
        return {
            int(topic_id): SearchResult(slug=slug, title=title, kind=TopicKind(kind), score=0.0)
            for topic_id, slug, title, kind in rows
        }

    async def stretch(self, slug: str) -> Stretch | None:
        data = await self._scalar("SELECT data FROM stretches WHERE slug = ?", (slug,))
        return Stretch.model_validate_json(data) if data else None

    async def stretches(self) -> list[Stretch]:
        async with self.db.reader.execute("SELECT data FROM stretches ORDER BY slug") as cursor:
            return [Stretch.model_validate_json(row[0]) async for row in cursor]

    async def tip(self, tip_id: str) -> Tip | None:
        data = await self._scalar("SELECT data FROM tips WHERE tip_id = ?", (tip_id,))
        return Tip.model_validate_json(data) if data else None

    async def tips(self, kind: TipKind | None = None) -> list[Tip]:
        sql, params = "SELECT data FROM tips ORDER BY id", ()  # type: tuple[str, tuple[str, ...]]
        if kind is not None:
            sql, params = "SELECT data FROM tips WHERE kind = ? ORDER BY id", (kind.value,)
        async with self.db.reader.execute(sql, params) as cursor:
            return [Tip.model_validate_json(row[0]) async for row in cursor]

    async def random_tip(
        self, kind: TipKind | None = None, rng: random.Random | None = None
    ) -> Tip | None:
        """A uniformly random tip; `rng` lets tests and rotations pick deterministically."""
        where, params = ("WHERE kind = ?", (kind.value,)) if kind else ("", ())
        count = int(await self._scalar(f"SELECT COUNT(*) FROM tips {where}", params))  # noqa: S608
        if count == 0:
            return None
        offset = (rng or random).randrange(count)
        data = await self._scalar(
            f"SELECT data FROM tips {where} ORDER BY id LIMIT 1 OFFSET ?",  # noqa: S608
            (*params, offset),
        )
        return Tip.model_validate_json(data)

    async def sources(self, ids: list[str] | None = None) -> list[Source]:
        """Sources by id in the order asked (all of them, by id, when `ids` is None)."""
        async with self.db.reader.execute("SELECT id, title, publisher, url FROM sources") as cur:
            every = {
                row[0]: Source(id=row[0], title=row[1], publisher=row[2], url=row[3])
                async for row in cur
            }
        if ids is None:
            return [every[key] for key in sorted(every)]
        return [every[key] for key in ids if key in every]

    async def red_flag_rules(self) -> list[RedFlagRule]:
        """The rules in file order; a row in a shape this version cannot read is left out.

        Such rows come only from a store built by an older crampbot (rules were regular
        expressions then); the next `kb build`, which `crampbot run` does when the seeds
        changed, replaces them.
        """
        rules: list[RedFlagRule] = []
        skipped = 0
        async with self.db.reader.execute("SELECT data FROM red_flags ORDER BY position") as cursor:
            async for row in cursor:
                try:
                    rules.append(RedFlagRule.model_validate_json(row[0]))
                except ValidationError:
                    skipped += 1
        if skipped:
            log.warning("%d red-flag rules in an old format were skipped; run kb build", skipped)
        return rules

    async def rules_readable(self) -> bool:
        """False when the store holds red-flag rules this version cannot read, or no terms."""
        async with self.db.reader.execute("SELECT data FROM red_flags") as cursor:
            rows = [row[0] async for row in cursor]
        if not rows:
            return True
        try:
            for row in rows:
                RedFlagRule.model_validate_json(row)
        except ValidationError:
            return False
        return bool(await self.triage_terms())

    async def triage_terms(self) -> dict[str, list[str]]:
        data = await self._scalar("SELECT value FROM meta WHERE key = ?", (TRIAGE_TERMS,))
        terms = json.loads(data) if data else {}
        return {str(k): [str(w) for w in v] for k, v in terms.items()}

    async def scope(self) -> Scope:
        data = await self._scalar("SELECT value FROM meta WHERE key = ?", (SCOPE,))
        return Scope.model_validate_json(data) if data else Scope()

    async def synonyms(self) -> SynonymTable:
        async with self.db.reader.execute("SELECT variant, canonical FROM synonyms") as cursor:
            return SynonymTable({row[0]: tuple(row[1].split()) async for row in cursor})

    async def search_words(self) -> dict[str, tuple[bool, int]]:
        """Every indexed word: whether a title, alias or summary uses it, and in how many topics."""
        async with self.db.reader.execute("SELECT word, head, docs FROM search_words") as cursor:
            return {row[0]: (bool(row[1]), int(row[2])) async for row in cursor}

    async def phrases(self) -> dict[str, list[str]]:
        """Alias and title phrases, mapped to the slugs of the topics they name."""
        async with self.db.reader.execute(
            "SELECT p.phrase, t.slug FROM topic_phrases p JOIN topics t ON t.id = p.topic_id"
        ) as cursor:
            result: dict[str, list[str]] = {}
            async for phrase, slug in cursor:
                result.setdefault(phrase, []).append(slug)
        return result
