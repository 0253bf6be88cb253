"""The content model: one set of pydantic models shared by the loader, the store and the API.

Seed files, rows in SQLite and JSON over HTTP all pass through these classes, so a rule written
here (a length limit, a required source) holds everywhere content can come from.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    field_validator,
)

from knowledge.text import unwrap

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, min_length=2, max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def _unique(values: list[str]) -> list[str]:
    """Reject repeated entries: a repeated alias or source is always an editing slip."""
    seen: set[str] = set()
    for value in values:
        key = value.casefold()
        if key in seen:
            raise ValueError(f"{value!r} is listed twice")
        seen.add(key)
    return values


UniqueSlugs = Annotated[list[Slug], AfterValidator(_unique)]
SourceIds = Annotated[list[Slug], Field(min_length=1), AfterValidator(_unique)]

TITLE_MAX = 100
SUMMARY_MAX = 300
TIP_MAX = 280
MESSAGE_MAX = 300
# A section is one Discord embed field (at most 1,024 characters); a little room is kept for
# the bullet and link formatting the bot adds.
SECTION_MAX = 1000


class Origin(StrEnum):
    """Where a row came from: seed rows are replaced on rebuild, API rows are kept."""

    SEED = "seed"
    API = "api"


class TopicKind(StrEnum):
    CRAMP = "cramp"
    CAUSE = "cause"
    MASSAGE = "massage"
    CARE = "care"
    # Something people call "a cramp" that is not a muscle cramp (period pain, restless legs):
    # a short page that says what it is and where to go, instead of leg-cramp advice.
    SIGNPOST = "signpost"


class TipKind(StrEnum):
    STRETCHING = "stretching"
    HYDRATION = "hydration"
    MASSAGE = "massage"
    GENERAL = "general"


class BodyRegion(StrEnum):
    """Where a stretch works; `/stretch` offers these and coverage checks count them."""

    CALF = "calf"
    FOOT = "foot"
    HAMSTRING = "hamstring"
    QUADRICEPS = "quadriceps"
    HIP = "hip"
    LOWER_BACK = "lower-back"
    UPPER_BACK = "upper-back"
    NECK = "neck"
    SHOULDER = "shoulder"
    FOREARM = "forearm"

    @property
    def label(self) -> str:
        return self.value.replace("-", " ")


class EvidenceLevel(StrEnum):
    """How much to trust a claim; shown to users so weak evidence is never dressed up as strong."""

    STRONG = "strong"
    MODERATE = "moderate"
    LIMITED = "limited"
    MIXED = "mixed"
    NONE = "none"


class RedFlagLevel(StrEnum):
    """Ordered from most to least urgent; `rank` sorts flags for display."""

    EMERGENCY = "emergency"
    URGENT = "urgent"
    GP = "gp"

    @property
    def rank(self) -> int:
        return list(RedFlagLevel).index(self)


# The sections a topic may have, in the order the bot shows them. A fixed list catches typos in
# headings, which would otherwise silently drop a section from every answer.
SECTION_HEADINGS: tuple[str, ...] = (
    "What it is",
    "Why it happens",
    "What to do now",
    "How to use it",
    "What the evidence says",
    "How to prevent it",
    "Who should avoid it",
    "When to see a doctor",
)
REQUIRED_SECTION = "What it is"


def _unwrapped(body: str) -> str:
    text = unwrap(body)
    if not text.strip():
        raise ValueError("a section needs some text")
    return text


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    title: Annotated[Text, StringConstraints(max_length=200)]
    publisher: Annotated[Text, StringConstraints(max_length=120)]
    url: HttpUrl


class Evidence(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    level: EvidenceLevel
    note: Annotated[Text, StringConstraints(max_length=SUMMARY_MAX)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    heading: str
    # Markdown: a single line break inside a paragraph is a space. Stored unwrapped, so seeds,
    # API writes and exports all agree, and Discord never breaks a sentence mid-line.
    body: Annotated[Text, AfterValidator(_unwrapped), StringConstraints(max_length=SECTION_MAX)]

    @field_validator("heading")
    @classmethod
    def _known_heading(cls, heading: str) -> str:
        if heading not in SECTION_HEADINGS:
            allowed = ", ".join(repr(h) for h in SECTION_HEADINGS)
            raise ValueError(f"unknown section heading {heading!r}; use one of {allowed}")
        return heading


class Topic(BaseModel):
    """A page of knowledge: a cramp site, a cause, a kind of massage or a piece of care advice."""

    model_config = ConfigDict(extra="forbid")

    slug: Slug
    kind: TopicKind
    title: Annotated[Text, StringConstraints(max_length=TITLE_MAX)]
    aliases: Annotated[
        list[Annotated[Text, StringConstraints(max_length=80)]], AfterValidator(_unique)
    ] = []
    summary: Annotated[Text, StringConstraints(max_length=SUMMARY_MAX)]
    sections: Annotated[list[Section], Field(min_length=1)]
    related: UniqueSlugs = []
    stretches: UniqueSlugs = []
    evidence: Evidence | None = None
    sources: SourceIds
    origin: Origin = Origin.SEED

    @field_validator("sections")
    @classmethod
    def _sections_in_order(cls, sections: list[Section]) -> list[Section]:
        headings = [s.heading for s in sections]
        if REQUIRED_SECTION not in headings:
            raise ValueError(f"a topic needs a {REQUIRED_SECTION!r} section")
        if len(set(headings)) != len(headings):
            raise ValueError("a section heading appears twice")
        return sections

    def section(self, heading: str) -> Section | None:
        return next((s for s in self.sections if s.heading == heading), None)


class Stretch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: Slug
    title: Annotated[Text, StringConstraints(max_length=TITLE_MAX)]
    region: BodyRegion
    aliases: Annotated[
        list[Annotated[Text, StringConstraints(max_length=80)]], AfterValidator(_unique)
    ] = []
    target_muscles: Annotated[list[Text], Field(min_length=1)]
    steps: Annotated[list[Annotated[Text, StringConstraints(max_length=400)]], Field(min_length=1)]
    hold_seconds: Annotated[int, Field(ge=1, le=300)]
    repetitions: Annotated[int, Field(ge=1, le=50)]
    cautions: list[Annotated[Text, StringConstraints(max_length=300)]] = []
    topics: UniqueSlugs = []
    sources: SourceIds
    origin: Origin = Origin.SEED


class Tip(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Slug
    kind: TipKind
    text: Annotated[Text, StringConstraints(max_length=TIP_MAX)]
    sources: SourceIds
    origin: Origin = Origin.SEED


# A term of `seeds/triage_terms.yaml`, or "!term" for "and the question does not state it".
TermRef = Annotated[str, StringConstraints(pattern=r"^!?[a-z0-9]+(?:-[a-z0-9]+)*$")]
Clause = Annotated[list[TermRef], Field(min_length=1)]


class RedFlagRule(BaseModel):
    """A warning sign: fires when, for one of its `when` clauses, the question states every term.

    Terms (`seeds/triage_terms.yaml`) name what a question can say: a body site, a symptom, a
    named condition or a qualifier, each with the wordings people use. A clause lists the terms
    that must all be stated ("leg-swelling", "breathless"); "!term" means that term must not be.
    `examples` must fire the rule and `counter_examples` must not: `kb check` proves both.
    """

    model_config = ConfigDict(extra="forbid")

    id: Slug
    level: RedFlagLevel
    title: Annotated[Text, StringConstraints(max_length=TITLE_MAX)]
    message: Annotated[Text, StringConstraints(max_length=MESSAGE_MAX)]
    source: Slug
    when: Annotated[list[Clause], Field(min_length=1)]
    examples: Annotated[list[Text], Field(min_length=1)]
    counter_examples: list[Text] = []

    def terms(self) -> set[str]:
        """Every term the rule names."""
        return {ref.removeprefix("!") for clause in self.when for ref in clause}


# A list of words or short phrases, each once (scope lists are edited by hand).
Words = Annotated[list[Annotated[Text, StringConstraints(max_length=40)]], AfterValidator(_unique)]


class Scope(BaseModel):
    """What questions crampbot answers at all (see `seeds/scope.yaml`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject_words: Words = []
    out_of_scope: Annotated[
        list[Annotated[Text, StringConstraints(max_length=80)]], AfterValidator(_unique)
    ] = []
    # Words that show a subject word is used in another sense ("a cramped flat", "a stretch
    # goal", "tight jeans", "twitch chat"), and the body and health words that outweigh them.
    other_senses: Words = []
    health_words: Words = []
    # Words that outweigh a word of another sense exactly as written, unstemmed: "cramps" and
    # "cramping" are about muscles, while "cramped" (the same stem) is as often about a room.
    health_forms: Words = []
    # Activities: they outweigh another sense but do not make an everyday word about health.
    context_words: Words = []
    # Everyday words for care ("stretch", "ice", "drink"): beside an activity ("before a run",
    # "after matches") they are about the body; alone they may not be.
    care_words: Words = []
    # Subject words with everyday senses too ("tight deadline", "stretch goal", "massage the
    # numbers"): alone they do not make a question on-topic; a health word must back them.
    ambiguous_words: Words = []
    # Idioms with body or subject words ("cold feet", "neck and neck", "cramp my style"): taken
    # out of a question before it is judged on-topic (see `knowledge/figurative.py`).
    idioms: Words = []
    # Animals, one word each: a question about an animal's body is for a vet, not crampbot.
    animals: Words = []
    # Everyday words for each stretch region ("quads", "back of my thigh"), for `/stretch` and
    # for questions that ask for a stretch.
    stretch_regions: dict[BodyRegion, list[Annotated[Text, StringConstraints(max_length=40)]]] = {}
    general_topics: UniqueSlugs = []
    red_flag_topic: Slug | None = None


class RedFlag(BaseModel):
    """A rule that fired for a piece of text: what the user sees."""

    model_config = ConfigDict(frozen=True)

    id: str
    level: RedFlagLevel
    title: str
    message: str
    source: str


STRETCH_RESULT = "stretch"


class SearchResult(BaseModel):
    """One answer to a question: a topic (its kind) or a stretch (kind "stretch")."""

    model_config = ConfigDict(frozen=True)

    slug: str
    title: str
    kind: TopicKind | Literal["stretch"]
    score: float
