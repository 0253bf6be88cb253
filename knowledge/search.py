"""Search: everyday questions in, the best topics out, or nothing for off-topic questions.

The pipeline, and why each step exists:
1. understand the question (`knowledge.query`): plain words only, typos corrected, alias
   phrases and synonyms found, off-topic questions recognised;
2. refuse off-topic questions: the least bad match would only mislead;
3. rank with BM25 (titles and aliases weighted highest) plus boosts for alias phrases found in
   order and as a bag of words. User text reaches FTS5 only as quoted bare words, so quotes,
   NEAR(, *, AND/OR/NOT and control characters are inert.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from knowledge.models import RedFlagLevel, SearchResult
from knowledge.query import ParsedQuery, QueryIndex, parse_query
from knowledge.store import KnowledgeStore, VersionWatch
from knowledge.triage import Triage

MAX_RESULTS = 5
CANDIDATES = 25
# A best BM25 score below this means every matched word had its IDF floored by FTS5.
IDF_FLOOR_SCORE = 1e-3
# bm25() weights for the columns title, aliases, summary, body.
COLUMN_WEIGHTS = (10.0, 8.0, 3.0, 1.0)
# Added per word of an alias found in the question: in order, and in any order.
PHRASE_BOOST = 4.0
BAG_BOOST = 3.0
# Results scoring below this share of the best are noise, not "see also".
RELATIVE_CUTOFF = 0.25


class RedFlagBrief(BaseModel):
    """A raised red flag as the JSON answer carries it."""

    model_config = ConfigDict(frozen=True)

    id: str
    level: RedFlagLevel
    message: str


class AskResult(BaseModel):
    """The answer to one question: the `crampbot ask --json` and `/v1/search` shape."""

    model_config = ConfigDict(frozen=True)

    query: str
    results: list[SearchResult]
    red_flags: list[RedFlagBrief]


@dataclass(frozen=True)
class _Cached:
    """The parsing index with the content version it was loaded for."""

    version: int
    index: QueryIndex


def _boost(parsed: ParsedQuery, slug: str) -> float:
    return PHRASE_BOOST * parsed.phrase_hits.get(slug, 0) + BAG_BOOST * parsed.bag_hits.get(slug, 0)


class SearchEngine:
    """Answers questions from the store; safe to share across tasks."""

    def __init__(self, store: KnowledgeStore, watch: VersionWatch | None = None) -> None:
        self.store = store
        self.watch = watch or VersionWatch(store)
        self._cached: _Cached | None = None
        self._lock = asyncio.Lock()

    async def _current_index(self) -> QueryIndex:
        """The cached index, reloaded when the content version changes."""
        version = await self.watch.version()
        cached = self._cached
        if cached is not None and cached.version == version:
            return cached.index
        async with self._lock:
            if self._cached is None or self._cached.version != version:
                self._cached = _Cached(version, await self._load_index())
            return self._cached.index

    async def _load_index(self) -> QueryIndex:
        return QueryIndex(
            vocabulary=await self.store.search_words(),
            topic_count=await self.store.count_topics(),
            phrases=await self.store.phrases(),
            synonyms=await self.store.synonyms(),
            scope=await self.store.scope(),
            triage=Triage(await self.store.red_flag_rules()),
        )

    async def understand(self, text: str) -> ParsedQuery:
        return parse_query(text, await self._current_index())

    async def search(self, text: str, limit: int = MAX_RESULTS) -> list[SearchResult]:
        """Up to `limit` topics, best first; [] when the question is off-topic."""
        index = await self._current_index()
        return await self._search(parse_query(text, index), index, limit)

    async def _search(
        self, parsed: ParsedQuery, index: QueryIndex, limit: int
    ) -> list[SearchResult]:
        if not parsed.on_topic:
            return []
        scored: dict[str, SearchResult] = {}
        if parsed.terms:
            # Terms are [a-z0-9]+ words, quoted: nothing the user typed is FTS5 syntax.
            match = " OR ".join(f'"{term}"' for term in parsed.terms)
            if parsed.names_only:
                match = f"{{title aliases}} : ({match})"
            hits = await self.store.rank_topics(match, COLUMN_WEIGHTS, CANDIDATES)
            # FTS5 floors the IDF of words in most topics at 1e-6: such scores keep their order
            # but shrink to nothing, so scale them until the best is 1.
            floored = bool(hits) and 0 < hits[0].score < IDF_FLOOR_SCORE
            scale = 1.0 / hits[0].score if floored else 1.0
            for hit in hits:
                score = hit.score * scale + _boost(parsed, hit.slug)
                scored[hit.slug] = hit.model_copy(update={"score": score})
        boosted = {*parsed.phrase_hits, *parsed.bag_hits}
        # Alias matches that BM25 did not rank: fetch only the strongest few.
        missing = sorted(
            (slug for slug in boosted if slug not in scored),
            key=lambda slug: (-_boost(parsed, slug), slug),
        )[:CANDIDATES]
        for hit in await self.store.topic_heads(missing) if missing else []:
            scored[hit.slug] = hit.model_copy(update={"score": _boost(parsed, hit.slug)})
        ranked = sorted(scored.values(), key=lambda r: (-r.score, r.slug))
        if not boosted and (parsed.names_only or not parsed.terms):
            # Only general words ("cramp help pls"): the general topics serve best.
            ranked = await self._promote(ranked, index.scope.general_topics, position=0)
        if not ranked:
            return []
        floor = ranked[0].score * RELATIVE_CUTOFF
        return [
            r.model_copy(update={"score": round(r.score, 3)})
            for r in ranked[: max(1, min(limit, MAX_RESULTS))]
            if r.score >= floor
        ]

    async def _promote(
        self, ranked: list[SearchResult], slugs: list[str], position: int
    ) -> list[SearchResult]:
        """Move (or bring in) `slugs` to `position`, keeping scores in descending order."""
        heads = {hit.slug: hit for hit in await self.store.topic_heads(slugs)} if slugs else {}
        chosen = [heads[slug] for slug in slugs if slug in heads]
        if not chosen:
            return ranked
        rest = [r for r in ranked if r.slug not in heads]
        position = min(position, len(rest))
        above = rest[position - 1].score if position > 0 else (rest[0].score + 1 if rest else 1.0)
        below = rest[position].score if position < len(rest) else 0.0
        step = (above - below) / (len(chosen) + 1) if position > 0 else 1.0
        top = above - step if position > 0 else above + len(chosen) - 1
        promoted = [
            hit.model_copy(update={"score": max(top - i * step, below)})
            for i, hit in enumerate(chosen)
        ]
        return [*rest[:position], *promoted, *rest[position:]]

    async def ask(self, text: str, limit: int = MAX_RESULTS) -> AskResult:
        """Search plus triage: the full answer to a question.

        A question that raises a red flag also gets the scope's red-flag topic (what to do,
        where to go): first for emergency and urgent signs, second for "see your doctor" ones.
        """
        index = await self._current_index()
        limit = max(1, min(limit, MAX_RESULTS))
        results = await self._search(parse_query(text, index), index, limit)
        raised = index.triage.check(text)
        flag_topic = index.scope.red_flag_topic
        if raised and flag_topic and results is not None:
            serious = any(f.level is not RedFlagLevel.GP for f in raised)
            promoted = await self._promote(results, [flag_topic], position=0 if serious else 1)
            results = [r.model_copy(update={"score": round(r.score, 3)}) for r in promoted][:limit]
        flags = [RedFlagBrief(id=f.id, level=f.level, message=f.message) for f in raised]
        return AskResult(query=text, results=results, red_flags=flags)

    async def triage(self) -> Triage:
        return (await self._current_index()).triage
