"""Discord's embed limits, enforced in one place: long content is shortened, never rejected.

Discord refuses a whole message when one embed breaks a limit, and the user sees nothing. Every
embed crampbot sends is laid out here, shortened at sentence or word boundaries to fit. It is
plain data with no discord.py in it, so the content API and `kb check` apply the very rule the
bot applies (bot/embeds.py turns a fitted spec into a discord.py embed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FIELD_COUNT_LIMIT = 25
FOOTER_LIMIT = 2048
# Across every embed of one message.
MESSAGE_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10

ELLIPSIS = "\u2026"
_SENTENCE_END = re.compile(r"[.!?](?=\s)|\n")


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a sentence end or a word if possible."""
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit < 2:
        return ELLIPSIS[:limit]
    window = text[: limit - 2]  # room for " …"
    ends = [m.end() for m in _SENTENCE_END.finditer(window)]
    if ends and ends[-1] >= limit // 2:
        return window[: ends[-1]].rstrip() + " " + ELLIPSIS
    space = window.rfind(" ")
    cut = window[:space] if space >= limit // 2 else window
    return cut.rstrip(" ,;:-") + ELLIPSIS


@dataclass
class Field:
    name: str
    value: str
    inline: bool = False


@dataclass
class EmbedSpec:
    """An embed before it is fitted to Discord's limits."""

    title: str
    description: str = ""
    fields: list[Field] = field(default_factory=list)
    footer: str = ""
    colour: int = 0x2F855A
    url: str | None = None

    def add(self, name: str, value: str, *, inline: bool = False) -> EmbedSpec:
        if value.strip():
            self.fields.append(Field(name, value, inline))
        return self

    def size(self) -> int:
        return (
            len(self.title)
            + len(self.description)
            + len(self.footer)
            + sum(len(f.name) + len(f.value) for f in self.fields)
        )


@dataclass(frozen=True)
class FitReport:
    """What fitting had to cut: `kb check` turns these into content problems."""

    shortened: tuple[str, ...]


def _fit_one(spec: EmbedSpec, budget: int, cuts: list[str]) -> EmbedSpec:
    def cut(label: str, text: str, limit: int) -> str:
        short = shorten(text, limit)
        if short != text.strip():
            cuts.append(f"{spec.title[:60]!r} {label}: {len(text)} > {limit} characters")
        return short

    fitted = EmbedSpec(
        title=cut("title", spec.title, TITLE_LIMIT) or ELLIPSIS,
        description=cut("description", spec.description, DESCRIPTION_LIMIT),
        footer=cut("footer", spec.footer, FOOTER_LIMIT),
        colour=spec.colour,
        url=spec.url,
    )
    if len(spec.fields) > FIELD_COUNT_LIMIT:
        cuts.append(f"{spec.title[:60]!r}: {len(spec.fields)} fields > {FIELD_COUNT_LIMIT}")
    for item in spec.fields[:FIELD_COUNT_LIMIT]:
        fitted.fields.append(
            Field(
                cut("field name", item.name, FIELD_NAME_LIMIT) or ELLIPSIS,
                cut(f"field {item.name[:40]!r}", item.value, FIELD_VALUE_LIMIT) or ELLIPSIS,
                item.inline,
            )
        )
    # Over the total: shorten the longest text (description or a field value) step by step.
    while fitted.size() > budget:
        excess = fitted.size() - budget
        longest = max(fitted.fields, key=lambda f: len(f.value), default=None)
        if longest is not None and len(longest.value) >= len(fitted.description):
            new_limit = max(1, len(longest.value) - excess)
            cuts.append(f"{spec.title[:60]!r}: total over {budget}, shortened {longest.name!r}")
            longest.value = shorten(longest.value, new_limit)
        elif fitted.description:
            cuts.append(f"{spec.title[:60]!r}: total over {budget}, shortened the description")
            fitted.description = shorten(
                fitted.description, max(0, len(fitted.description) - excess)
            )
        else:
            fitted.fields.pop()
    return fitted


def fit_message(specs: list[EmbedSpec]) -> tuple[list[EmbedSpec], FitReport]:
    """Fit every embed, and all of them together, into one message's limits."""
    cuts: list[str] = []
    specs = specs[:EMBEDS_PER_MESSAGE]
    fitted: list[EmbedSpec] = []
    remaining = MESSAGE_TOTAL_LIMIT
    for index, spec in enumerate(specs):
        # Later embeds (see-also, tips) give way to earlier ones (red flags, the answer).
        reserve = sum(min(s.size(), 300) for s in specs[index + 1 :])
        budget = max(200, min(MESSAGE_TOTAL_LIMIT, remaining - reserve))
        one = _fit_one(spec, budget, cuts)
        fitted.append(one)
        remaining -= one.size()
    return fitted, FitReport(tuple(cuts))


def to_text(spec: EmbedSpec) -> str:
    """A terminal rendering of an embed, for `crampbot preview`."""
    lines = [f"== {spec.title} =="]
    if spec.description:
        lines += [spec.description, ""]
    for item in spec.fields:
        lines += [f"-- {item.name}", item.value, ""]
    if spec.footer:
        lines.append(f"({spec.footer})")
    return "\n".join(lines).rstrip()
