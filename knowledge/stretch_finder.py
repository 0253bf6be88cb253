"""Finding the stretch a person means, from a muscle or body word or a question.

`/stretch muscle:quads` and "good stretch for tight quads after a run" both need the same step:
from everyday words ("quads", "back of my legs", "hip flexors", "Calves") to a body region
(`seeds/scope.yaml`, `stretch_regions`), then to the stretch in that region whose own words
(title, aliases, muscles, steps) best fit the rest of the question ("lying on my back", "in my
chair", "no balance"). A stretch named outright ("cat cow", "heel drops") wins over both.
Pure and in memory: 23 stretches need no database query per question.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from knowledge.models import BodyRegion, Stretch
from knowledge.text import light_stem, phrase_key, query_words

# Words that ask for a stretch rather than for an explanation.
INTENT_STEMS = frozenset({"stretch", "loosen", "limber", "mobility", "mobilise", "mobilize"})
# Words that make a region's stretches worth offering, after the page that explains: "quads so
# tight after cycling" gets the quad stretches too, but not ahead of the answer.
HINT_STEMS = frozenset({"tight", "stiff"})
# Words for the problem, not the stretch: in a name beside them ("stretch for toe cramp") they
# say what the stretch is for.
PROBLEM_STEMS = frozenset({"cramp", "spasm", "pain", "ache", "sore", "knot"})
# Words too common in stretch text to tell two stretches apart.
_GENERIC = frozenset(
    """
    stretch muscle muscles hold second seconds time times slowly gently feel side your you the
    and for with into until then keep back leg legs arm it this that a an of to in on or do can
    """.split()
)
NAMED_SCORE = 100.0  # a stretch named by its title or an alias
# Every word of the title or an alias, in any order and any ending ("heel drops off a step"
# for "Step heel drop"): named, a little less surely than the exact words.
NAMED_WORDS_SCORE = 60.0
# The same words beside only a hint ("tight"): offered, but not ahead of the page that explains.
HINTED_WORDS_SCORE = 15.0
REGION_SCORE = 10.0  # a stretch of a region the question names
WORD_IN_TITLE_SCORE = 5.0  # the body word the question used is in the stretch's title


@dataclass(frozen=True)
class _Entry:
    stretch: Stretch
    names: tuple[str, ...]  # normalised title and aliases, padded with spaces
    name_bags: tuple[frozenset[str], ...]  # the stems of each name, for any-order matches
    title_stems: frozenset[str]  # every word of the title, for the word-in-title score
    name_stems: frozenset[str]
    text_stems: frozenset[str]


def _stems(text: str) -> set[str]:
    return {light_stem(w) for w in query_words(text)} - _GENERIC


class StretchFinder:
    """Built once per content version from the stretches and the region words."""

    def __init__(
        self, stretches: Iterable[Stretch], region_words: Mapping[BodyRegion, Iterable[str]]
    ) -> None:
        self._entries = [
            _Entry(
                stretch,
                tuple(f" {phrase_key(n)} " for n in [stretch.title, *stretch.aliases] if n),
                tuple(
                    bag
                    for n in [stretch.title, *stretch.aliases]
                    if len(bag := frozenset(_stems(n))) >= 2
                ),
                frozenset(light_stem(w) for w in query_words(stretch.title)),
                frozenset(_stems(" ".join([stretch.title, *stretch.aliases]))),
                frozenset(
                    _stems(" ".join([*stretch.target_muscles, *stretch.steps, *stretch.cautions]))
                ),
            )
            for stretch in stretches
        ]
        # Each name's stems, filed under one of them: a name can only match a question that has
        # that stem, so a question looks at a handful of names, not every name of every stretch.
        self._bags: dict[str, list[tuple[int, frozenset[str]]]] = {}
        for number, entry in enumerate(self._entries):
            for bag in entry.name_bags:
                self._bags.setdefault(min(bag), []).append((number, bag))
        phrases: dict[str, BodyRegion] = {}
        for region, words in region_words.items():
            for word in [region.label, *words]:
                phrases[phrase_key(word)] = region
        # Longest first, so "back of my thigh" is read before "back".
        self._regions = sorted(phrases.items(), key=lambda item: -len(item[0]))

    def regions(self, text: str) -> list[BodyRegion]:
        """The body regions `text` names, longest wording first, each once."""
        return list(dict.fromkeys(region for _, region in self._region_words(text)))

    def _region_words(self, text: str) -> list[tuple[str, BodyRegion]]:
        padded = f" {phrase_key(text)} "
        found: list[tuple[str, BodyRegion]] = []
        for phrase, region in self._regions:
            if phrase and f" {phrase} " in padded:
                padded = padded.replace(f" {phrase} ", " | ")
                found.append((phrase, region))
        return found

    def named(self, text: str) -> list[Stretch]:
        """Stretches whose title or an alias the text contains."""
        padded = f" {phrase_key(text)} "
        return [e.stretch for e in self._entries if any(n in padded for n in e.names)]

    def rank(self, text: str, *, need_intent: bool = True) -> list[tuple[Stretch, float]]:
        """Stretches that fit `text`, best first, with scores; [] when it asks for none.

        A stretch named outright always counts. Otherwise the text must name a body region and,
        with `need_intent`, ask for a stretch ("stretch", "loosen"...).
        """
        stems = {light_stem(w) for w in query_words(text)}
        padded = f" {phrase_key(text)} "
        region_words = self._region_words(text)
        regions = list(dict.fromkeys(region for _, region in region_words))
        said = {light_stem(w) for phrase, _ in region_words for w in phrase.split()}
        # The region's own name ("calf" for "calves") counts for a little less than the word
        # the person used ("chest" beats "shoulder" in the shoulder region).
        named_region = {light_stem(w) for _, region in region_words for w in region.label.split()}
        asks = bool(stems & INTENT_STEMS) or not need_intent
        wants = asks or bool(stems & HINT_STEMS)
        scored: list[tuple[Stretch, float]] = []
        # A name's words in any order name it ("heel drops off a stair"), unless they are a
        # body word and a problem ("stretch for toe cramp" is {toe, cramp}) and the question
        # does not ask for a stretch: "toes cramping in tight boots" asks about the cramp.
        in_words: dict[int, float] = {}
        for stem in stems:
            for number, bag in self._bags.get(stem, ()):
                if bag <= stems and (len(bag) >= 3 or wants):
                    named = len(bag) >= 3 or asks or not bag & PROBLEM_STEMS
                    score = NAMED_WORDS_SCORE if named else HINTED_WORDS_SCORE
                    in_words[number] = max(in_words.get(number, 0.0), score)
        for order, entry in enumerate(self._entries):
            score = 0.0
            if any(name in padded for name in entry.names):
                score += NAMED_SCORE
            elif order in in_words:
                score += in_words[order]
            if wants and entry.stretch.region in regions:
                score += REGION_SCORE * (len(regions) - regions.index(entry.stretch.region))
                score += 2.0 * len(stems & entry.name_stems) + len(stems & entry.text_stems)
                score += WORD_IN_TITLE_SCORE * len(said & entry.title_stems)
                score += 1.0 * len((named_region - said) & entry.title_stems)
            if score:
                scored.append((entry.stretch, score - order * 1e-6))
        return sorted(scored, key=lambda item: -item[1])

    def asked_for(self, text: str) -> bool:
        """Whether the text asks for a stretch outright ("stretch", "loosen"), rather than
        only saying a muscle is tight: then stretches lead the answer."""
        return bool({light_stem(w) for w in query_words(text)} & INTENT_STEMS)

    def for_muscle(self, muscle: str) -> Stretch | None:
        """The best stretch for what a member typed in `/stretch muscle:`."""
        wanted = muscle.strip().casefold()
        for entry in self._entries:
            if wanted == entry.stretch.slug:
                return entry.stretch
        ranked = self.rank(muscle, need_intent=False)
        return ranked[0][0] if ranked else None
