"""The rules a write must pass: the same checks `crampbot kb check` applies.

Sources and references must exist, no near-duplicate tips, the topic must fit a seed file, and
shipped content (origin `seed`) is edited as reviewed files, never through the API. Every
refusal is an `ApiError` whose details point into the request body.
"""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz import fuzz

from knowledge.api.errors import ApiError, ErrorDetail
from knowledge.checks import (
    NEAR_DUPLICATE_RATIO,
    check_references,
    check_stretch_coverage,
    tip_fingerprint,
)
from knowledge.export import topic_seed_problems
from knowledge.loader import Content, Problem
from knowledge.models import Origin, Tip, Topic
from knowledge.render import render_problems_for
from knowledge.store import KnowledgeStore

RESERVED_TIP_IDS = frozenset({"random"})  # GET /v1/tips/random would hide such a tip
_REQUEST = "(request)"  # the location `kb check` problems about the request's item carry
_RULE_FIELDS = frozenset({"related", "stretches", "sources", "topics"})


def _rule_details(problems: Sequence[Problem | str]) -> list[ErrorDetail]:
    """`kb check` problems about the request's item, as details pointing into the body."""
    details = []
    for problem in problems:
        message = problem.message if isinstance(problem, Problem) else problem
        name, _, rest = message.partition(": ")
        if name in _RULE_FIELDS and rest:
            details.append(ErrorDetail(field=f"body.{name}", message=rest, type="content_rule"))
        else:
            details.append(ErrorDetail(field="body", message=message, type="content_rule"))
    return details


def refuse(details: list[ErrorDetail]) -> None:
    """Raise the 422 for a write that breaks rules, naming the first and counting the rest."""
    if details:
        first = details[0]
        extra = f" (and {len(details) - 1} more, listed in details)" if len(details) > 1 else ""
        raise ApiError(
            422, f"{first.field}: {first.message}{extra}", code="content_rule", details=details
        )


def mismatch(field: str, value: str) -> None:
    """Refuse a body whose key differs from the one in the URL."""
    refuse(
        [
            ErrorDetail(
                field=f"body.{field}",
                message=f"must match the {field} in the URL ({value!r})",
                type="mismatch",
            )
        ]
    )


def not_a_tip_route(tip_id: str) -> None:
    if tip_id in RESERVED_TIP_IDS:
        raise ApiError(
            405,
            f"/v1/tips/{tip_id} is a route of its own; only GET is allowed",
            headers={"Allow": "GET"},
        )


def refuse_seed(kind: str, key: str, origin: Origin, path: str) -> None:
    """Shipped content is edited as reviewed files: an API write would be undone by a rebuild."""
    if origin is Origin.SEED:
        raise ApiError(
            409,
            f"{kind} {key!r} is shipped content: edit {path} and run `crampbot kb build` "
            "(an API edit would be undone by the next rebuild)",
        )


class ContentRules:
    """The checks a write must pass: the same functions `crampbot kb check` runs."""

    def __init__(self, store: KnowledgeStore) -> None:
        self.store = store

    async def _topics(self) -> list[Topic]:
        return await self.store.topics(limit=max(await self.store.count_topics(), 1))

    @staticmethod
    def _fits(item: Topic | Tip) -> list[ErrorDetail]:
        """The bot's own embed rule (knowledge.render): nothing written may be cut when shown."""
        return _rule_details(render_problems_for(item))

    async def check_topic(self, topic: Topic) -> None:
        details = [
            ErrorDetail(field=f"body.{field}", message=message, type="seed_file")
            for field, message in topic_seed_problems(topic)
        ]
        content = Content(
            sources=await self.store.sources(),
            topics=[*(t for t in await self._topics() if t.slug != topic.slug), topic],
            stretches=await self.store.stretches(),
        )
        content.locations[("topic", topic.slug)] = (_REQUEST, None)
        problems = [*check_references(content), *check_stretch_coverage(content)]
        details += _rule_details([p for p in problems if p.file == _REQUEST])
        if not details:
            details = self._fits(topic)
        refuse(details)

    async def check_tip(self, tip: Tip) -> None:
        details: list[ErrorDetail] = []
        if tip.id in RESERVED_TIP_IDS:
            details.append(
                ErrorDetail(
                    field="body.id",
                    message=f"{tip.id!r} is reserved (GET /v1/tips/random picks a random tip)",
                    type="reserved",
                )
            )
        content = Content(sources=await self.store.sources(), tips=[tip])
        content.locations[("tip", tip.id)] = (_REQUEST, None)
        details += _rule_details([p for p in check_references(content) if p.file == _REQUEST])
        # kb check's near-duplicate rule, run only against the new tip (not every pair).
        mine = tip_fingerprint(tip.text)
        for other in await self.store.tips():
            if other.id == tip.id:
                continue
            similarity = fuzz.token_sort_ratio(mine, tip_fingerprint(other.text))
            if similarity >= NEAR_DUPLICATE_RATIO:
                details.append(
                    ErrorDetail(
                        field="body.text",
                        message=f"nearly repeats tip {other.id!r} ({similarity:.0f}% alike): "
                        "say something new",
                        type="near_duplicate",
                    )
                )
        if not details:
            details = self._fits(tip)
        refuse(details)

    async def topic_referrers(self, slug: str) -> list[str]:
        """What would point at nothing if topic `slug` went away."""
        found = [
            f"topic {t.slug!r} (related)"
            for t in await self._topics()
            if t.slug != slug and slug in t.related
        ]
        found += [
            f"stretch {s.slug!r} (topics)" for s in await self.store.stretches() if slug in s.topics
        ]
        scope = await self.store.scope()
        if slug in scope.general_topics or slug == scope.red_flag_topic:
            found.append("seeds/scope.yaml")
        return found
