"""Search: everyday questions in, the best topics out, or nothing for off-topic questions.

The pipeline, and why each step exists:
1. normalise the text and split it into plain words: user text never reaches FTS5 as syntax,
   only as quoted bare words, so quotes, NEAR(, *, AND/OR/NOT and control characters are inert;
2. correct typos against the vocabulary of the content ("hamstrng" -> "hamstring");
3. find alias phrases ("charley horse", "crick in my neck") and synonyms ("pee" -> "urine");
4. refuse off-topic questions: unless a word or phrase hits a title, alias or summary, there is
   no answer worth giving, and the least bad match would only mislead;
5. rank with BM25 (titles and aliases weighted highest) plus a boost for whole alias phrases.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict
from rapidfuzz.distance import OSA
from rapidfuzz.process import extractOne

from knowledge.models import RedFlagLevel, SearchResult
from knowledge.store import KnowledgeStore
from knowledge.synonyms import SynonymTable
from knowledge.text import query_words
from knowledge.triage import Triage

MAX_RESULTS = 5
CANDIDATES = 25
# Roughly how many topic rows one question may make BM25 score (see `_within_budget`).
MATCH_BUDGET = 1500
# A best BM25 score below this means every matched word had its IDF floored by FTS5.
IDF_FLOOR_SCORE = 1e-3
RECHECK_SECONDS = 2.0
MAX_TERMS = 24
# bm25() weights for the columns title, aliases, summary, body.
COLUMN_WEIGHTS = (10.0, 8.0, 3.0, 1.0)
PHRASE_BOOST = 4.0
# Results scoring below this share of the best are noise, not "see also".
RELATIVE_CUTOFF = 0.25

STOPWORDS = frozenset(
    """
    a about after again all also am an and any anything are as at be because been before being
    best but by can cant could did didnt do does doesnt doing dont during each even ever every
    feel feels felt few for from get gets getting go going got had has have having he her here
    hers him his how i id if ill im in into is isnt it its ive just keep kind know like lot lots
    make me might more most much my myself need needs no nor not now of off often on once one only
    or other our out over own please pretty quite really right same should so some something
    sometimes still such sure than thanks that thats the their them then there these they thing
    things think this those through to too try trying up us very want was way we well were what
    whats when where which while who why will with would yes yet you your youre yours
    """.split()
)


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


@dataclass
class _Index:
    """What search keeps in memory between questions; reloaded when the content changes."""

    version: int
    local_writes: int
    vocabulary: dict[str, tuple[bool, int]]  # word -> (in a title, alias or summary; topics)
    topic_count: int
    words_by_initial: dict[str, list[str]]
    phrases: dict[str, list[str]]
    synonyms: SynonymTable
    triage: Triage
    longest_phrase: int


@dataclass(frozen=True)
class ParsedQuery:
    """What search understood of a question; exposed so tests can see each step."""

    terms: tuple[str, ...]
    phrase_hits: dict[str, int]
    on_topic: bool
    # True when every term is in most topics: BM25 gives such terms no weight, so only titles
    # and aliases are searched for them.
    names_only: bool = False


def _correct(word: str, index: _Index) -> str | None:
    """The nearest content word for a likely typo, or None when nothing is close enough."""
    if word in index.vocabulary:
        return word
    if len(word) < 4 or word.isdigit():
        return None
    # One slip (a swap counts as one) for ordinary words, two for long ones: more than that and
    # real but unrelated words ("protein") start turning into content words ("proven").
    max_distance = 1 if len(word) < 8 else 2
    match = extractOne(
        word,
        index.words_by_initial.get(word[0], []),
        scorer=OSA.distance,
        score_cutoff=max_distance,
    )
    return match[0] if match else None


def parse_query(text: str, index: _Index) -> ParsedQuery:
    raw = query_words(text)[: MAX_TERMS * 4]
    corrected = [_correct(w, index) or w for w in raw]
    hits: dict[str, int] = {}
    for size in range(index.longest_phrase, 0, -1):
        for start in range(len(corrected) - size + 1):
            phrase = " ".join(corrected[start : start + size])
            for slug in index.phrases.get(phrase, ()):
                hits[slug] = max(hits.get(slug, 0), size)
    expanded = corrected + index.synonyms.expand(corrected)
    terms: list[str] = []
    for word in expanded:
        if word not in STOPWORDS and word in index.vocabulary and word not in terms:
            terms.append(word)
    on_topic = bool(hits) or any(index.vocabulary[t][0] for t in terms)
    # A word in more than half the topics has zero BM25 weight (its IDF is clamped), so leaving
    # it out changes no score; it only spares SQLite from visiting almost every row.
    common_limit = index.topic_count // 2
    distinctive = [t for t in terms if index.vocabulary[t][1] <= common_limit]
    names_only = bool(terms) and not distinctive
    chosen = _within_budget(distinctive, index) if distinctive else terms
    return ParsedQuery(tuple(chosen[:MAX_TERMS]), hits, on_topic, names_only)


def _within_budget(terms: list[str], index: _Index) -> list[str]:
    """The rarest terms whose matches fit the row budget (always at least two terms).

    BM25 costs SQLite work per matching row, so on a large store a question made of common
    words would visit most of it. Rare words carry most of the ranking weight, so they are kept
    first. On the shipped content no question comes near the budget.
    """
    by_rarity = sorted(terms, key=lambda term: index.vocabulary[term][1])
    kept: list[str] = []
    rows = 0
    for term in by_rarity:
        rows += index.vocabulary[term][1]
        if len(kept) >= 2 and rows > MATCH_BUDGET:
            break
        kept.append(term)
    return [term for term in terms if term in kept]


class SearchEngine:
    """Answers questions from the store; safe to share across tasks."""

    def __init__(self, store: KnowledgeStore, recheck_seconds: float = RECHECK_SECONDS) -> None:
        self.store = store
        self.recheck_seconds = recheck_seconds
        self._index: _Index | None = None
        self._checked_at = -math.inf
        self._lock = asyncio.Lock()

    async def _current_index(self) -> _Index:
        """The cached index, reloaded when content changed.

        Writes through this process's store are seen at once; writes by another process (a
        `kb build` beside a running bot) within `recheck_seconds`. Asking SQLite on every
        question would cost a thread hop per search for a change that happens once a day.
        """
        index = self._index
        now = time.monotonic()
        if (
            index is not None
            and index.local_writes == self.store.local_writes
            and now - self._checked_at < self.recheck_seconds
        ):
            return index
        async with self._lock:
            local_writes = self.store.local_writes
            version = await self.store.content_version()
            if self._index is None or self._index.version != version:
                self._index = await self._load_index(version, local_writes)
            else:
                self._index.local_writes = local_writes
            self._checked_at = now
            return self._index

    async def _load_index(self, version: int, local_writes: int) -> _Index:
        vocabulary = await self.store.search_words()
        phrases = await self.store.phrases()
        by_initial: dict[str, list[str]] = {}
        for word in sorted(vocabulary):
            by_initial.setdefault(word[0], []).append(word)
        return _Index(
            version=version,
            local_writes=local_writes,
            vocabulary=vocabulary,
            topic_count=await self.store.count_topics(),
            words_by_initial=by_initial,
            phrases=phrases,
            longest_phrase=max((p.count(" ") + 1 for p in phrases), default=0),
            synonyms=await self.store.synonyms(),
            triage=Triage(await self.store.red_flag_rules()),
        )

    async def understand(self, text: str) -> ParsedQuery:
        return parse_query(text, await self._current_index())

    async def search(self, text: str, limit: int = MAX_RESULTS) -> list[SearchResult]:
        """Up to `limit` topics, best first; [] when the question is off-topic."""
        index = await self._current_index()
        return await self._search(parse_query(text, index), limit)

    async def _search(self, parsed: ParsedQuery, limit: int) -> list[SearchResult]:
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
                boost = PHRASE_BOOST * parsed.phrase_hits.get(hit.slug, 0)
                scored[hit.slug] = hit.model_copy(update={"score": hit.score * scale + boost})
        missing = [slug for slug in parsed.phrase_hits if slug not in scored]
        for hit in await self.store.topic_heads(missing) if missing else []:
            boost = PHRASE_BOOST * parsed.phrase_hits[hit.slug]
            scored[hit.slug] = hit.model_copy(update={"score": boost})
        ranked = sorted(scored.values(), key=lambda r: (-r.score, r.slug))
        if not ranked:
            return []
        floor = ranked[0].score * RELATIVE_CUTOFF
        return [
            r.model_copy(update={"score": round(r.score, 3)})
            for r in ranked[: max(1, min(limit, MAX_RESULTS))]
            if r.score >= floor
        ]

    async def ask(self, text: str, limit: int = MAX_RESULTS) -> AskResult:
        """Search plus triage: the full answer to a question."""
        index = await self._current_index()
        results = await self._search(parse_query(text, index), limit)
        flags = [
            RedFlagBrief(id=f.id, level=f.level, message=f.message)
            for f in index.triage.check(text)
        ]
        return AskResult(query=text, results=results, red_flags=flags)

    async def triage(self) -> Triage:
        return (await self._current_index()).triage
