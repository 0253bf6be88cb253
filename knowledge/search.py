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
import math
from array import array
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from knowledge.models import (
    STRETCH_RESULT,
    RedFlag,
    RedFlagLevel,
    SearchResult,
    Stretch,
    TopicKind,
)
from knowledge.query import ParsedQuery, QueryIndex, parse_query
from knowledge.store import KnowledgeStore, VersionWatch
from knowledge.stretch_finder import NAMED_SCORE, StretchFinder
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
# Added per distinctive title word the question itself uses (see QueryIndex.title_stems).
TITLE_BOOST = 4.0
# The topic kinds that may stand beside an emergency or urgent warning (see `answer`).
EXPLANATORY_KINDS = frozenset({TopicKind.CRAMP, TopicKind.CAUSE})
# Results scoring below this share of the best are noise, not "see also".
RELATIVE_CUTOFF = 0.25
# At most this many stretches lead the results of a question that asks for a stretch.
MAX_STRETCHES = 2
# Word scores kept per content version, counted in (topic, score) pairs: the shipped content
# needs a few thousand at most; a far larger store starts the memo afresh past this.
TERM_MEMO_PAIRS = 200_000


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


TermKey = tuple[str, bool]  # (word, titles and aliases only)


@dataclass(frozen=True, slots=True)
class _WordScores:
    """One word's (topic id, score) pairs as two flat arrays.

    Arrays hold plain numbers, not objects: 16 bytes a pair instead of about 110 as tuples, and
    nothing for the garbage collector to walk (with tuples, a large store's memo filled the
    heap and set off full collections of 80-100 ms in bench/search.py's first round).
    """

    topic_ids: array[int]
    scores: array[float]

    @classmethod
    def of(cls, pairs: list[tuple[int, float]]) -> _WordScores:
        return cls(array("q", [i for i, _ in pairs]), array("d", [s for _, s in pairs]))


@dataclass
class _Cached:
    """The parsing index with the content version it was loaded for, and its word scores.

    A question's BM25 score per topic is the sum of its words' own scores (see
    `KnowledgeStore.term_scores`), and questions share most of their words, so each word is
    scored by FTS5 once per content version and then added up from memory: the same numbers
    FTS5 gives for the whole question, without a query per question.
    """

    version: int
    index: QueryIndex
    term_scores: dict[TermKey, _WordScores] = field(default_factory=dict)
    term_pairs: int = 0


def _results(ranked: list[tuple[str, float]], index: QueryIndex) -> list[SearchResult]:
    return [
        index.by_slug[slug].model_copy(update={"score": round(score, 3)})
        for slug, score in ranked
        if slug in index.by_slug
    ]


def _promote(
    ranked: list[tuple[str, float]], slugs: list[str], index: QueryIndex, position: int
) -> list[tuple[str, float]]:
    """Move (or bring in) `slugs` to `position`, keeping scores in descending order."""
    chosen = [slug for slug in slugs if slug in index.by_slug]
    if not chosen:
        return ranked
    rest = [item for item in ranked if item[0] not in chosen]
    position = min(position, len(rest))
    above = rest[position - 1][1] if position > 0 else (rest[0][1] + 1 if rest else 1.0)
    below = rest[position][1] if position < len(rest) else 0.0
    step = (above - below) / (len(chosen) + 1) if position > 0 else 1.0
    top = above - step if position > 0 else above + len(chosen) - 1
    promoted = [(slug, max(top - i * step, below)) for i, slug in enumerate(chosen)]
    return [*rest[:position], *promoted, *rest[position:]]


def _with_stretches(
    topics: list[SearchResult],
    stretches: list[tuple[Stretch, float]],
    limit: int,
    *,
    lead: bool = True,
) -> list[SearchResult]:
    """The best stretches first (scores kept descending), then the topics, within `limit`.

    With `lead` false (a muscle said to be tight, no stretch asked for, none named), the
    stretches come after the best topic, which explains, and before the rest.
    """
    if not stretches:
        return topics[:limit]
    head = [] if lead else topics[:1]
    rest = topics[len(head) :]
    top = rest[0].score if rest else (head[0].score - 1 if head else 0.0)
    # Below the topic that stays first, if one does, so the scores keep descending.
    ceiling = head[0].score if head else math.inf
    picked = [
        SearchResult(
            slug=s.slug,
            title=s.title,
            kind=STRETCH_RESULT,
            score=round(min(top + 2 - i, ceiling - 0.001 * (i + 1)), 3),
        )
        for i, (s, _) in enumerate(stretches[:MAX_STRETCHES])
    ]
    return [*head, *picked, *rest][: max(1, min(limit, MAX_RESULTS))]


def _boost(parsed: ParsedQuery, slug: str, index: QueryIndex) -> float:
    title = len(parsed.own_stems & index.title_stems.get(slug, frozenset()))
    return (
        PHRASE_BOOST * parsed.phrase_hits.get(slug, 0)
        + BAG_BOOST * parsed.bag_hits.get(slug, 0)
        + TITLE_BOOST * title
    )


class SearchEngine:
    """Answers questions from the store; safe to share across tasks."""

    def __init__(self, store: KnowledgeStore, watch: VersionWatch | None = None) -> None:
        self.store = store
        self.watch = watch or VersionWatch(store)
        self._cached: _Cached | None = None
        self._lock = asyncio.Lock()

    async def _current(self) -> _Cached:
        """The cached index and word scores, reloaded when the content version changes."""
        version = await self.watch.version()
        cached = self._cached
        if cached is not None and cached.version == version:
            return cached
        async with self._lock:
            if self._cached is None or self._cached.version != version:
                self._cached = _Cached(version, await self._load_index())
            return self._cached

    async def _term_scores(self, cached: _Cached, term: str, names_only: bool) -> _WordScores:
        key = (term, names_only)
        found = cached.term_scores.get(key)
        if found is None:
            pairs = await self.store.term_scores(term, COLUMN_WEIGHTS, names_only=names_only)
            if cached.term_pairs + len(pairs) > TERM_MEMO_PAIRS:
                cached.term_scores.clear()
                cached.term_pairs = 0
            found = cached.term_scores[key] = _WordScores.of(pairs)
            cached.term_pairs += len(pairs)
        return found

    async def rank_terms(
        self, terms: tuple[str, ...], *, names_only: bool = False
    ) -> list[tuple[int, float]]:
        """The best `CANDIDATES` (topic id, BM25 score) for `terms` (vocabulary words)."""
        return await self._rank(await self._current(), terms, names_only)

    async def _rank(
        self, cached: _Cached, terms: tuple[str, ...], names_only: bool
    ) -> list[tuple[int, float]]:
        """The best `CANDIDATES` (topic id, BM25 score) for the question's terms.

        Equal to FTS5's bm25() of the terms joined by OR, to the last bit: each word's score is
        added in query order, as FTS5 adds them (tests/test_search_ranking.py checks this).
        """
        totals: dict[int, float] = {}
        for term in terms:
            word = await self._term_scores(cached, term, names_only)
            for topic_id, score in zip(word.topic_ids, word.scores, strict=True):
                totals[topic_id] = totals.get(topic_id, 0.0) + score
        ranked = sorted(totals.items(), key=lambda hit: (-hit[1], hit[0]))
        return ranked[:CANDIDATES]

    async def _load_index(self) -> QueryIndex:
        scope = await self.store.scope()
        return QueryIndex(
            stretches=StretchFinder(await self.store.stretches(), scope.stretch_regions),
            vocabulary=await self.store.search_words(),
            topic_count=await self.store.count_topics(),
            phrases=await self.store.phrases(),
            synonyms=await self.store.synonyms(),
            scope=scope,
            heads=await self.store.topic_heads(),
            triage=Triage(await self.store.red_flag_rules(), await self.store.triage_terms()),
        )

    async def stretch_for(self, muscle: str) -> Stretch | None:
        """The stretch for what a member typed in `/stretch muscle:` (slug, muscle or body word)."""
        finder = (await self._current()).index.stretches
        return finder.for_muscle(muscle) if finder else None

    async def understand(self, text: str) -> ParsedQuery:
        return parse_query(text, (await self._current()).index)

    async def search(self, text: str, limit: int = MAX_RESULTS) -> list[SearchResult]:
        """Up to `limit` topics, best first; [] when the question is off-topic."""
        cached = await self._current()
        return await self._search(text, parse_query(text, cached.index), cached, limit)

    async def _search(
        self, text: str, parsed: ParsedQuery, cached: _Cached, limit: int
    ) -> list[SearchResult]:
        index = cached.index
        stretches = index.stretches.rank(text) if index.stretches else []
        if not parsed.on_topic:
            # A stretch named outright ("cat cow") is an answer even without a subject word.
            named = [(s, score) for s, score in stretches if score >= NAMED_SCORE / 2]
            return _with_stretches([], named, limit)
        topics = await self._rank_topics(parsed, cached, limit)
        was_named = bool(stretches) and stretches[0][1] >= NAMED_SCORE / 2
        lead = was_named or (index.stretches is not None and index.stretches.asked_for(text))
        return _with_stretches(topics, stretches, limit, lead=lead)

    async def _rank_topics(
        self, parsed: ParsedQuery, cached: _Cached, limit: int
    ) -> list[SearchResult]:
        index = cached.index
        scores: dict[str, float] = {}
        if parsed.terms:
            hits = await self._rank(cached, parsed.terms, parsed.names_only)
            # FTS5 floors the IDF of words in most topics at 1e-6: such scores keep their order
            # but shrink to nothing, so scale them until the best is 1.
            floored = bool(hits) and 0 < hits[0][1] < IDF_FLOOR_SCORE
            scale = 1.0 / hits[0][1] if floored else 1.0
            for topic_id, score in hits:
                head = index.heads.get(topic_id)
                if head is not None:
                    scores[head.slug] = score * scale + _boost(parsed, head.slug, index)
        boosted = {*parsed.phrase_hits, *parsed.bag_hits}
        for slug in boosted:  # alias matches that BM25 did not rank
            if slug not in scores and slug in index.by_slug:
                scores[slug] = _boost(parsed, slug, index)
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        if not boosted and (parsed.names_only or not parsed.terms):
            # Only general words ("cramp help pls"): the general topics serve best.
            ranked = _promote(ranked, index.scope.general_topics, index, position=0)
        if not ranked:
            return []
        floor = ranked[0][1] * RELATIVE_CUTOFF
        kept = [item for item in ranked[: max(1, min(limit, MAX_RESULTS))] if item[1] >= floor]
        return _results(kept, index)

    async def ask(self, text: str, limit: int = MAX_RESULTS) -> AskResult:
        """Search plus triage: the full answer to a question (the JSON shape)."""
        answer, _ = await self.answer(text, limit)
        return answer

    async def answer(self, text: str, limit: int = MAX_RESULTS) -> tuple[AskResult, list[RedFlag]]:
        """The answer to a question, with the red flags in full (title, source) for rendering.

        A question that raises a red flag also gets the scope's red-flag topic (what to do,
        where to go): first for emergency and urgent signs, second for "see your doctor" ones.
        Beside an emergency or urgent sign, self-care pages (massage, heat, stretching, drinking
        more) would read as something to try first, and some would do harm (rubbing a leg that
        may hold a clot), so only pages that explain a cramp or its cause stay with it.
        """
        cached = await self._current()
        index = cached.index
        limit = max(1, min(limit, MAX_RESULTS))
        results = await self._search(text, parse_query(text, index), cached, limit)
        raised = index.triage.check(text)
        flag_topic = index.scope.red_flag_topic
        if raised and flag_topic:
            serious = any(f.level is not RedFlagLevel.GP for f in raised)
            ranked = [
                (r.slug, r.score)
                for r in results
                if not serious or r.kind in EXPLANATORY_KINDS or r.slug == flag_topic
            ]
            ranked = _promote(ranked, [flag_topic], index, position=0 if serious else 1)
            results = _results(ranked[:limit], index)
        flags = [RedFlagBrief(id=f.id, level=f.level, message=f.message) for f in raised]
        return AskResult(query=text, results=results, red_flags=flags), raised
