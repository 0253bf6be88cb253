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
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict
from rapidfuzz.distance import OSA
from rapidfuzz.process import extractOne

from knowledge.models import RedFlagLevel, SearchResult, TopicKind
from knowledge.store import KnowledgeStore
from knowledge.synonyms import SynonymTable
from knowledge.text import query_words
from knowledge.triage import Triage

MAX_RESULTS = 5
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
    vocabulary: dict[str, bool]  # word -> appears in a title, alias or summary
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
    on_topic = bool(hits) or any(index.vocabulary[t] for t in terms)
    return ParsedQuery(tuple(terms[:MAX_TERMS]), hits, on_topic)


class SearchEngine:
    """Answers questions from the store; safe to share across tasks."""

    def __init__(self, store: KnowledgeStore) -> None:
        self.store = store
        self._index: _Index | None = None
        self._lock = asyncio.Lock()

    async def _current_index(self) -> _Index:
        version = await self.store.content_version()
        if self._index is not None and self._index.version == version:
            return self._index
        async with self._lock:
            if self._index is None or self._index.version != version:
                self._index = await self._load_index(version)
        return self._index

    async def _load_index(self, version: int) -> _Index:
        vocabulary = await self.store.search_words()
        phrases = await self.store.phrases()
        by_initial: dict[str, list[str]] = {}
        for word in sorted(vocabulary):
            by_initial.setdefault(word[0], []).append(word)
        return _Index(
            version=version,
            vocabulary=vocabulary,
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
            match = " OR ".join(f'"{term}"' for term in parsed.terms)
            rows = await self.store.db.reader.execute_fetchall(
                "SELECT t.slug, t.title, t.kind, -bm25(topic_fts, ?, ?, ?, ?) AS score "
                "FROM topic_fts JOIN topics t ON t.id = topic_fts.rowid "
                "WHERE topic_fts MATCH ? ORDER BY score DESC LIMIT 25",
                (*COLUMN_WEIGHTS, match),
            )
            for slug, title, kind, score in rows:
                boost = PHRASE_BOOST * parsed.phrase_hits.get(slug, 0)
                scored[slug] = SearchResult(
                    slug=slug, title=title, kind=TopicKind(kind), score=float(score) + boost
                )
        missing = [slug for slug in parsed.phrase_hits if slug not in scored]
        for topic in await self.store.topics_by_slugs(missing) if missing else []:
            boost = PHRASE_BOOST * parsed.phrase_hits[topic.slug]
            scored[topic.slug] = SearchResult(
                slug=topic.slug, title=topic.title, kind=topic.kind, score=boost
            )
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
