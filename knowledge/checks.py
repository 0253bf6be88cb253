"""Content rules that span files: references, coverage, duplicates, red-flag examples.

`loader.load_seeds` validates each item alone; these checks need the whole set. Together they are
what `crampbot kb check` enforces, so CI fails when a rule breaks.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz

from knowledge.loader import Content, Problem
from knowledge.models import BodyRegion, TipKind, TopicKind
from knowledge.text import normalize, words
from knowledge.triage import Triage
from knowledge.wording import WordingError, closest

# Two tips whose normalised words are this similar say the same thing.
NEAR_DUPLICATE_RATIO = 85.0
_FILLER = frozenset("a an the and or to of in on for your you it is are be this that with".split())
_NUMBERS = dict(
    zip(
        "one two three four five six seven eight nine ten fifteen twenty thirty sixty".split(),
        "1 2 3 4 5 6 7 8 9 10 15 20 30 60".split(),
        strict=True,
    )
)


def _where(content: Content, kind: str, key: str) -> tuple[str, int | None]:
    return content.locations.get((kind, key), ("seeds", None))


def _problem(content: Content, kind: str, key: str, message: str) -> Problem:
    file, line = _where(content, kind, key)
    return Problem(file, line, message)


def check_references(content: Content) -> Iterable[Problem]:
    """Every slug or source id that content names must exist."""
    known = {
        "source": {s.id for s in content.sources},
        "topic": {t.slug for t in content.topics},
        "stretch": {s.slug for s in content.stretches},
    }
    # (kind of item, its key, field name, the values it lists, what kind they must be)
    references: list[tuple[str, str, str, list[str], str]] = []
    for topic in content.topics:
        references += [
            ("topic", topic.slug, "related", topic.related, "topic"),
            ("topic", topic.slug, "stretches", topic.stretches, "stretch"),
            ("topic", topic.slug, "sources", topic.sources, "source"),
        ]
        if topic.slug in topic.related:
            yield _problem(content, "topic", topic.slug, "related: a topic cannot relate to itself")
    for stretch in content.stretches:
        references += [
            ("stretch", stretch.slug, "topics", stretch.topics, "topic"),
            ("stretch", stretch.slug, "sources", stretch.sources, "source"),
        ]
    references += [("tip", tip.id, "sources", tip.sources, "source") for tip in content.tips]
    references += [
        ("red flag", rule.id, "source", [rule.source], "source") for rule in content.red_flags
    ]
    for kind, key, name, values, target in references:
        for index, value in enumerate(values):
            if value in known[target] or (target, value) in content.broken:
                continue  # a broken item reports its own problem; naming it is not a second one
            file, _ = _where(content, kind, key)
            line = content.line_of(kind, key, name, index)
            hint = closest(value, known[target])
            yield Problem(file, line, f"{name}: no {target} {value!r}{hint}")
    scope_topics = [*content.scope.general_topics, *filter(None, [content.scope.red_flag_topic])]
    for slug in scope_topics:
        if slug not in known["topic"]:
            yield Problem("seeds/scope.yaml", None, f"no topic {slug!r}")


def check_stretch_coverage(content: Content) -> Iterable[Problem]:
    """Every cramp site must offer at least one stretch: it is the first thing people need."""
    served = {slug for stretch in content.stretches for slug in stretch.topics}
    for topic in content.topics:
        if topic.kind is TopicKind.CRAMP and not topic.stretches and topic.slug not in served:
            yield _problem(content, "topic", topic.slug, "a cramp topic needs at least one stretch")


def tip_fingerprint(text: str) -> str:
    """Tip text reduced to its meaningful words, for near-duplicate comparison."""
    return " ".join(_NUMBERS.get(w, w) for w in words(normalize(text)) if w not in _FILLER)


def check_near_duplicate_tips(content: Content) -> Iterable[Problem]:
    prints = [(tip, tip_fingerprint(tip.text)) for tip in content.tips]
    for (first, a), (second, b) in itertools.combinations(prints, 2):
        similarity = fuzz.token_sort_ratio(a, b)
        if similarity >= NEAR_DUPLICATE_RATIO:
            file, line = _where(content, "tip", first.id)
            yield _problem(
                content,
                "tip",
                second.id,
                f"tip {second.id!r} nearly repeats tip {first.id!r} ({file}:{line}, "
                f"{similarity:.0f}% alike): say something new",
            )


def check_red_flag_terms(content: Content) -> Iterable[Problem]:
    """Every term a rule names must exist; the nearest real term is suggested."""
    known = content.triage_terms
    if content.terms_unreadable:
        return
    for rule in content.red_flags:
        for c, clause in enumerate(rule.when):
            for t, ref in enumerate(clause):
                name = ref.removeprefix("!")
                if name not in known:
                    file, _ = _where(content, "red flag", rule.id)
                    line = content.line_of("red flag", rule.id, "when", c, t)
                    hint = closest(name, known)
                    yield Problem(file, line, f"when: no term {name!r} in triage_terms.yaml{hint}")


def check_red_flag_examples(content: Content) -> Iterable[Problem]:
    """Each rule's examples must trigger it and its counter-examples must not.

    This keeps rules, terms and intent in step: a wording removed from a term, or a rule made
    too broad, shows up here as the example it breaks, on that example's own line.
    """
    known = set(content.triage_terms)
    if content.terms_unreadable:
        return
    usable = [rule for rule in content.red_flags if rule.terms() <= known]
    try:
        triage = Triage(usable, content.triage_terms)
    except (WordingError, ValueError):
        return  # the term problems are reported where they are
    for rule in usable:
        file, _ = _where(content, "red flag", rule.id)
        for index, example in enumerate(rule.examples):
            if rule.id not in {flag.id for flag in triage.check(example)}:
                line = content.line_of("red flag", rule.id, "examples", index)
                yield Problem(file, line, f"example {example!r} does not trigger {rule.id!r}")
        for index, example in enumerate(rule.counter_examples):
            if rule.id in {flag.id for flag in triage.check(example)}:
                line = content.line_of("red flag", rule.id, "counter_examples", index)
                yield Problem(file, line, f"counter-example {example!r} triggers {rule.id!r}")


def check_content(content: Content, policy: CoveragePolicy | None = None) -> list[Problem]:
    """Every cross-file problem, sorted by file and line; `policy` adds the coverage rules."""
    problems = [
        *check_references(content),
        *check_stretch_coverage(content),
        *check_near_duplicate_tips(content),
        *check_red_flag_terms(content),
        *check_red_flag_examples(content),
        *(check_coverage(content, policy) if policy else ()),
    ]
    return sorted(problems, key=lambda p: (p.file, p.line or 0, p.message))


@dataclass(frozen=True)
class CoveragePolicy:
    """What the shipped content must contain; fixtures in tests check without one."""

    required_topics: frozenset[str]
    min_stretches: int
    stretch_regions: frozenset[BodyRegion]
    min_tips: dict[tuple[TipKind, ...], int]


SHIPPED_POLICY = CoveragePolicy(
    required_topics=frozenset(
        """
        calf-cramp foot-cramp hamstring-cramp quadriceps-cramp back-spasm neck-spasm
        arm-hand-cramp night-cramps exercise-cramps pregnancy-cramps
        dehydration electrolytes poor-circulation overexertion medication-cramps kidney-stones
        massage-hot-stone massage-trigger-point massage-sports massage-mat self-massage
        stretching hydration heat-and-cold quinine when-to-see-a-doctor
        heat-illness-cramps side-stitch muscle-strain-vs-cramp muscle-twitching
        gaming-hand-wrist-pain growing-pains cramps-older-adults cramps-with-medical-conditions
        cramp-remedies-myths hip-groin-glute-cramp abdominal-rib-muscle-cramp
        painkillers-and-muscle-relaxants
        period-cramps stomach-cramps restless-legs writers-cramp-dystonia carpal-tunnel sciatica
        shin-splints plantar-fasciitis
        """.split()
    ),
    min_stretches=20,
    stretch_regions=frozenset(BodyRegion) - {BodyRegion.UPPER_BACK},
    # Two months of daily posts without a repeat, per kind.
    min_tips={
        (TipKind.STRETCHING,): 60,
        (TipKind.HYDRATION,): 60,
        (TipKind.MASSAGE, TipKind.GENERAL): 20,
    },
)


def check_coverage(content: Content, policy: CoveragePolicy) -> Iterable[Problem]:
    topics = {t.slug for t in content.topics} | {k for kind, k in content.broken if kind == "topic"}
    for slug in sorted(policy.required_topics - topics):
        yield Problem("seeds/topics", None, f"missing required topic {slug!r} ({slug}.md)")
    if len(content.stretches) < policy.min_stretches:
        yield Problem(
            "seeds/stretches",
            None,
            f"{len(content.stretches)} stretches; the shipped content needs {policy.min_stretches}",
        )
    covered = {stretch.region for stretch in content.stretches}
    for region in sorted(policy.stretch_regions - covered):
        yield Problem("seeds/stretches", None, f"no stretch for the {region.label}")
    for kinds, minimum in policy.min_tips.items():
        count = sum(1 for tip in content.tips if tip.kind in kinds)
        if count < minimum:
            names = " and ".join(kind.value for kind in kinds)
            yield Problem("seeds/tips", None, f"{count} {names} tips; at least {minimum} needed")
