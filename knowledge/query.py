"""Understanding a question before it is searched: pure functions over an in-memory index.

Kept apart from `search.py` (which talks to SQLite) so every step can be tested without I/O:
1. split the question into plain words (nothing the user types ever reaches FTS5 as syntax);
2. correct typos against the content's own words ("hamstrng" -> "hamstring");
3. find alias phrases: contiguous ("crick in my neck") and as a bag of words in any order
   ("my statins make my legs cramp" contains every word of the alias "statin cramps");
4. add synonyms ("pee" -> "urine") and drop filler words;
5. decide whether the question is on-topic (`seeds/scope.yaml`): it must name crampbot's subject,
   must not name something crampbot does not cover, and must not use its words in another
   sense ("a cramped flat", "a stretch goal", "tight jeans") more than in a health sense.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz.distance import OSA
from rapidfuzz.process import extractOne

from knowledge.english import may_correct
from knowledge.figurative import (
    ANIMAL_ACTIVITIES,
    about_an_animal,
    animal_forms,
    idioms_by_first_word,
    literal_words,
)
from knowledge.models import Scope, SearchResult
from knowledge.stretch_finder import StretchFinder
from knowledge.synonyms import SynonymTable
from knowledge.text import light_stem, normalize, phrase_key, query_words, words
from knowledge.triage import Triage

MAX_TERMS = 24
# Roughly how many topic rows one question may make BM25 score (see `within_budget`).
MATCH_BUDGET = 1200
# Typo corrections of shorter words are too often a different real word ("maths" -> "mats"),
# so they help ranking but do not make a question on-topic.
TRUSTED_CORRECTION_LENGTH = 6

STOPWORDS = frozenset(
    """
    a about after again ago all almost also always am an and any anyone anything are around as
    ask at away bad be because been before being best better big bit but by can cant could day
    days did didnt do does doesnt doing done dont down during each easy else even ever every
    everything fine for from gets getting give go goes going gone good got gotten had has have
    having he hello help helps her here hers hey hi him his how however i id if ill im in into
    is isnt it its ive just keep keeps kind know last let lets like little long look lot lots
    make makes many may me mean might mine more most much must my myself need needs never new
    next no nor not nothing now of off oh ok okay on once one only or other our out over own
    please pretty put quite rather real really right same say see seem should so some someone
    something sometimes soon still stuff such sure take tell than thank thanks that thats the
    their them then there these they thing things think this those though thought through time
    times to today too tried try trying two up us use used very want wanted was way we week
    weeks well went were what whats when where whether which while who whole why will with
    wont would yeah year years yes yet you your youre yours
    """.split()
)


@dataclass(frozen=True)
class AliasBag:
    """The content words of one alias or title, stemmed, for order-free matching, and every
    topic that has them (copies of one alias share a bag, so a question tests it once)."""

    slugs: tuple[str, ...]
    stems: frozenset[str]


@dataclass
class QueryIndex:
    """Everything question parsing needs, loaded once per content version."""

    vocabulary: dict[str, tuple[bool, int]]  # word -> (in a title, alias or summary; topics)
    topic_count: int
    phrases: dict[str, list[str]]  # alias phrase -> slugs
    synonyms: SynonymTable
    scope: Scope
    triage: Triage
    heads: dict[int, SearchResult] = field(default_factory=dict)  # topic id -> slug, title, kind
    words_by_initial: dict[str, list[str]] = field(default_factory=dict)
    # Short words are corrected only towards crampbot's subject words: "calfe" is "calf", but
    # "shops" must not become "shoes" because one page mentions shoes.
    subject_words_by_initial: dict[str, list[str]] = field(default_factory=dict)
    longest_phrase: int = 0
    bags_by_stem: dict[str, list[AliasBag]] = field(default_factory=dict)
    subject_stems: frozenset[str] = frozenset()
    out_of_scope: tuple[str, ...] = ()
    other_sense_stems: frozenset[str] = frozenset()
    other_sense_phrases: tuple[str, ...] = ()
    health_stems: frozenset[str] = frozenset()
    health_forms: frozenset[str] = frozenset()
    context_stems: frozenset[str] = frozenset()
    care_keys: frozenset[str] = frozenset()
    ambiguous_surface: frozenset[str] = frozenset()
    subject_keys: frozenset[str] = frozenset()
    health_keys: frozenset[str] = frozenset()
    ambiguous_keys: frozenset[str] = frozenset()
    idioms: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    animal_forms: frozenset[str] = frozenset()
    animal_activity_stems: frozenset[str] = frozenset()
    by_slug: dict[str, SearchResult] = field(default_factory=dict)
    stretches: StretchFinder | None = None
    # Each topic's distinctive title words ("calf" of "Calf cramp"; not "cramp", which most
    # titles share), so the site a question names outranks a page that matched a side word.
    title_stems: dict[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_slug = {head.slug: head for head in self.heads.values()}
        titles = {slug: set(stems(query_words(head.title))) for slug, head in self.by_slug.items()}
        shared = Counter(stem for words in titles.values() for stem in words)
        common = {stem for stem, count in shared.items() if count > max(2, len(titles) // 10)}
        self.title_stems = {slug: frozenset(words - common) for slug, words in titles.items()}
        for word in sorted(self.vocabulary):
            self.words_by_initial.setdefault(word[0], []).append(word)
        self.longest_phrase = max((p.count(" ") + 1 for p in self.phrases), default=0)
        self.subject_stems = frozenset(stems(self.scope.subject_words))
        for word in sorted(self.vocabulary):
            if light_stem(word) in self.subject_stems:
                self.subject_words_by_initial.setdefault(word[0], []).append(word)
        self.out_of_scope = tuple(f" {phrase_key(p)} " for p in self.scope.out_of_scope)
        keys = [phrase_key(p) for p in self.scope.other_senses]
        self.other_sense_stems = frozenset(stems(k for k in keys if " " not in k))
        self.other_sense_phrases = tuple(f" {k} " for k in keys if " " in k)
        self.health_stems = frozenset(stems(self.scope.health_words))
        self.health_forms = frozenset(phrase_key(w) for w in self.scope.health_forms)
        self.context_stems = frozenset(stems(self.scope.context_words))
        self.idioms = idioms_by_first_word(tuple(query_words(i)) for i in self.scope.idioms)
        self.animal_forms = animal_forms(self.scope.animals)
        self.animal_activity_stems = self.context_stems | ANIMAL_ACTIVITIES
        self.care_keys = frozenset(_keys(self.scope.care_words))
        # An ambiguous word that shares its stem with a clear subject word ("cramped" and
        # "cramp") is ambiguous only as written; otherwise every form of it is.
        ambiguous = set(self.scope.ambiguous_words)
        clear = set(_keys(w for w in self.scope.subject_words if w not in ambiguous))
        self.ambiguous_surface = frozenset(phrase_key(w) for w in ambiguous)
        self.subject_keys = frozenset(_keys(self.scope.subject_words))
        self.health_keys = frozenset(_keys(self.scope.health_words))
        self.ambiguous_keys = frozenset(set(_keys(ambiguous)) - clear)
        slugs_by_bag: dict[frozenset[str], dict[str, None]] = {}
        for phrase, slugs in self.phrases.items():
            owners = slugs_by_bag.setdefault(frozenset(stems(phrase.split())), {})
            owners.update(dict.fromkeys(slugs))
        bags = [AliasBag(tuple(owners), bag) for bag, owners in slugs_by_bag.items()]
        frequency = Counter(stem for bag in bags for stem in bag.stems)
        for bag in bags:
            if bag.stems:
                # Filed under its rarest word, so a question checks few bags per word.
                rarest = min(bag.stems, key=lambda stem: (frequency[stem], stem))
                self.bags_by_stem.setdefault(rarest, []).append(bag)


def _keys(words: Iterable[str]) -> list[str]:
    """Words stemmed twice, for comparing subject words with question words."""
    return [light_stem(light_stem(w)) for w in stems(words)]


def stems(words: Iterable[str]) -> list[str]:
    return [light_stem(w) for w in words if w not in STOPWORDS and not w.isdigit()]


@dataclass(frozen=True)
class ParsedQuery:
    """What search understood of a question; exposed so tests can see each step."""

    terms: tuple[str, ...]
    phrase_hits: dict[str, int]
    bag_hits: dict[str, int]
    on_topic: bool
    # True when every term is in most topics: BM25 gives such terms no weight, so only titles
    # and aliases are searched for them.
    names_only: bool = False
    # The question's own words, stemmed (before synonyms are added), for title matches.
    own_stems: frozenset[str] = frozenset()


def correct(word: str, index: QueryIndex) -> str | None:
    """The nearest content word for a likely typo, or None when nothing is close enough."""
    if word in index.vocabulary:
        return word
    if len(word) < 4 or word.isdigit():
        return None
    if len(word) == 4:
        return None  # "quid" is not "quad": four letters leave too little to go on
    # One slip (a swap counts as one) for ordinary words, two for long ones: more than that and
    # real but unrelated words ("protein") start turning into content words ("proven").
    max_distance = 1 if len(word) < 8 else 2
    short = len(word) < TRUSTED_CORRECTION_LENGTH
    match = extractOne(
        word,
        (index.subject_words_by_initial if short else index.words_by_initial).get(word[0], []),
        scorer=OSA.distance,
        score_cutoff=max_distance,
    )
    if match is None:
        return None
    # A real word ("maths", "solve") is what the person meant, unless the match only changes
    # its ending ("tingly" for "tingling").
    if not may_correct(word, match[0]):
        return None
    return str(match[0])


def _phrase_hits(words: list[str], index: QueryIndex) -> dict[str, int]:
    hits: dict[str, int] = {}
    for size in range(min(index.longest_phrase, len(words)), 0, -1):
        for start in range(len(words) - size + 1):
            for slug in index.phrases.get(" ".join(words[start : start + size]), ()):
                hits[slug] = max(hits.get(slug, 0), size)
    return hits


def _bag_hits(query_stems: set[str], index: QueryIndex) -> dict[str, int]:
    hits: dict[str, int] = {}
    for stem in query_stems:
        for bag in index.bags_by_stem.get(stem, ()):
            if bag.stems <= query_stems:
                size = len(bag.stems)
                for slug in bag.slugs:
                    hits[slug] = max(hits.get(slug, 0), size)
    return hits


AGE_UNITS = frozenset({"year", "years", "yr", "yrs", "yo"})
CHILD_UNTIL = 18
OLDER_FROM = 65


def ages_as_words(raw: list[str]) -> list[str]:
    """A child for "my 8 year old", an older adult for "his 78 year old dad": the age says so,
    while the word "old" alone would match the page on older adults for both. "5 years ago"
    is no age: only "<n> year(s) old", "<n>yo" and "<n> yo" are."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        word, after = raw[i], raw[i + 1 : i + 3]
        number = word.rstrip("yrso") if word[:1].isdigit() else ""
        unit = word[len(number) :]
        if number.isdigit() and (unit == "yo" or (unit in AGE_UNITS and after[:1] == ["old"])):
            used = 1 + (after[:1] == ["old"])  # "8yo", "8yrs old"
        elif word.isdigit() and after[:1] == ["yo"]:
            number, used = word, 2  # "8 yo"
        elif word.isdigit() and after[:1] and after[0] in AGE_UNITS and after[1:] == ["old"]:
            number, used = word, 3  # "8 year old"
        else:
            out.append(word)
            i += 1
            continue
        age = int(number)
        out.append("child" if age < CHILD_UNTIL else "older" if age >= OLDER_FROM else "adult")
        i += used
    return out


A_SIDE_COUNTS = frozenset("3 4 5 6 7 8 9 11 three four five six seven eight nine eleven".split())


def a_side_as_football(raw: list[str]) -> list[str]:
    """ "5 a side" is football: without this, dropping "5" and "a" left "side", the side-stitch
    page's word, in every five-a-side question."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        if raw[i] in A_SIDE_COUNTS and raw[i + 1 : i + 3] == ["a", "side"]:
            out.append("football")
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out


def parse_query(text: str, index: QueryIndex) -> ParsedQuery:
    # Ages first: query_words would drop the "8" of "my 8 year old" (one character).
    every_word = a_side_as_football(ages_as_words(words(normalize(text))))
    raw = [w for w in every_word if len(w) > 1][: MAX_TERMS * 4]
    corrected = [correct(w, index) or w for w in raw]
    padded = f" {' '.join(raw)} "
    excluded = any(phrase in padded for phrase in index.out_of_scope)

    expanded = corrected + index.synonyms.expand(corrected)
    query_stems = set(stems(expanded))
    phrase_hits = _phrase_hits(corrected, index)
    bag_hits = _bag_hits(query_stems, index)

    on_topic = not excluded and is_on_topic(
        every_word, raw, corrected, index, phrase_hits=phrase_hits, bag_hits=bag_hits
    )

    terms: list[str] = []
    for word in expanded:
        if word not in STOPWORDS and word in index.vocabulary and word not in terms:
            terms.append(word)
    # A word in more than half the topics has zero BM25 weight (its IDF is clamped), so leaving
    # it out changes no score; it only spares SQLite from visiting almost every row.
    common_limit = index.topic_count // 2
    distinctive = [t for t in terms if index.vocabulary[t][1] <= common_limit]
    names_only = bool(terms) and not distinctive
    chosen = within_budget(distinctive or terms, index)
    return ParsedQuery(
        tuple(chosen[:MAX_TERMS]),
        phrase_hits,
        bag_hits,
        on_topic,
        names_only,
        frozenset(stems(corrected)),
    )


def is_on_topic(
    every_word: list[str],
    raw: list[str],
    corrected: list[str],
    index: QueryIndex,
    *,
    phrase_hits: dict[str, int],
    bag_hits: dict[str, int],
) -> bool:
    """Whether the question is about crampbot's subject (see `names_the_subject`), not about
    another sense of its words (`other_sense`), an idiom ("cold feet") or an animal's body."""
    literal = literal_words(raw, index.idioms)
    if len(literal) < len(raw):  # an idiom's words say nothing about a body: judge the rest
        raw, corrected = literal, [correct(w, index) or w for w in literal]
        phrase_hits = _phrase_hits(corrected, index)
        bag_hits = _bag_hits(set(stems(corrected + index.synonyms.expand(corrected))), index)
    # Short words are corrected only towards subject words (see `correct`), so every
    # correction can be trusted to say what the question is about.
    trusted_stems = set(stems(corrected + index.synonyms.expand(corrected)))
    if index.subject_stems:
        names_subject = names_the_subject(corrected, trusted_stems, index) or any(
            size >= 2 for size in bag_hits.values()
        )
    else:  # content without a scope file: any title, alias or summary word will do
        names_subject = any(index.vocabulary.get(w, (False, 0))[0] for w in corrected)
    if not names_subject:
        return False
    # A topic's alias of two words or more ("period cramps", "heat exhaustion") speaks for the
    # question as a body word does, against a word of another sense ("a stream", "a room").
    named_phrases = sum(1 for size in phrase_hits.values() if size >= 2)
    if other_sense(raw, f" {' '.join(raw)} ", index, support=named_phrases):
        return False
    return not about_an_animal(every_word, index.animal_forms, index.animal_activity_stems)


def names_the_subject(words: list[str], word_stems: set[str], index: QueryIndex) -> bool:
    """True when the question is about crampbot's subject, not only using one of its words.

    A clear subject word ("cramp", "hamstring", "quinine") is enough. Words with everyday
    senses ("tight", "stretch", "calf", "cramped") count only in pairs, or beside a health word
    other than themselves: "calf cramped up" is about a muscle, "a calf on a dairy farm" is not.
    """
    clear = False
    signals: set[str] = set()
    health: set[str] = set()
    for word in [*words, *index.synonyms.expand(words)]:
        # Stemmed twice, so "hamstrings" and "hamstring" meet (the stemmer turns one into
        # "hamstring" and the other into "hamstr").
        stem = light_stem(light_stem(word))
        subject = stem in index.subject_keys
        if stem in index.health_keys:
            health.add(stem)
        if not subject and stem not in index.health_keys:
            continue
        if word in index.ambiguous_surface or stem in index.ambiguous_keys:
            signals.add(stem)
        elif subject:
            clear = True
        else:
            signals.add(stem)
    # Two everyday words back each other only when one is a body or health word ("calf
    # cramped"); "foam roller" alone is club kit, not a question about a muscle.
    paired = len(signals) >= 2 and bool(signals & health)
    # Care words beside an activity: "stretch before gaming sessions", "ice baths after runs".
    in_context = bool(signals & index.care_keys) and bool(word_stems & index.context_stems)
    return clear or paired or in_context or bool(signals and health - signals)


def other_sense(raw: list[str], padded: str, index: QueryIndex, *, support: int = 0) -> bool:
    """True when the question uses crampbot's words in another sense ("a cramped flat").

    Words of another sense (rooms, money, clothes, software, pets) count against the question;
    body and health words ("calf", "pain", "training") count for it. Only a question where the
    other sense wins is refused, so "my calf cramped on the bus" is still answered.
    """
    if not index.other_sense_stems and not index.other_sense_phrases:
        return False
    found = set(stems(raw))
    against = len(found & index.other_sense_stems) + sum(
        phrase in padded for phrase in index.other_sense_phrases
    )
    if not against:
        return False
    forms = len(set(raw) & index.health_forms)
    return against > len(found & (index.health_stems | index.context_stems)) + forms + support


def within_budget(terms: list[str], index: QueryIndex) -> list[str]:
    """The rarest terms whose matches fit the row budget (always at least one).

    BM25 costs SQLite work per matching row, so on a large store a question made of common
    words would visit most of it. Rare words carry most of the ranking weight, so they are kept
    first. On the shipped content no question comes near the budget.
    """
    by_rarity = sorted(terms, key=lambda term: index.vocabulary[term][1])
    kept: list[str] = []
    rows = 0
    for term in by_rarity:
        rows += index.vocabulary[term][1]
        if kept and rows > MATCH_BUDGET:
            break
        kept.append(term)
    return [term for term in terms if term in kept]
