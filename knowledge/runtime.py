"""Opening the knowledge side as one unit: database, store and search engine."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from knowledge.checks import CoveragePolicy, check_content
from knowledge.db import Database
from knowledge.loader import Problem, load_seeds
from knowledge.render import content_render_problems
from knowledge.search import SearchEngine
from knowledge.store import BuildReport, KnowledgeStore, VersionWatch

log = logging.getLogger(__name__)


class ContentError(RuntimeError):
    """The seeds have problems; the list says where."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the content")
        self.problems = problems


def check_seeds(seeds: Path, policy: CoveragePolicy | None = None) -> list[Problem]:
    """Every problem in the seed files, per item and across files (and coverage, if asked),
    then, when there is none, every answer the bot would have to cut to fit Discord's limits.

    One load of the seeds serves every check, the render step too (knowledge.render builds the
    answers straight from the loaded models). Problems in single items come first: they are
    usually the cause, and what they break elsewhere follows. Each group is in file and line
    order. `kb check` and `kb build` both refuse exactly this list.
    """
    content, problems = load_seeds(seeds)
    ordered = sorted(problems, key=lambda p: (p.file, p.line or 0))
    found = [*ordered, *check_content(content, policy)]
    # Rendering content that is already wrong would only repeat its problems as cut answers.
    return found or content_render_problems(content)


@dataclass
class Knowledge:
    db: Database
    store: KnowledgeStore
    search: SearchEngine
    watch: VersionWatch

    @classmethod
    async def open(cls, db_path: Path) -> Knowledge:
        db = await Database.open(db_path)
        store = KnowledgeStore(db)
        watch = VersionWatch(store)
        return cls(db=db, store=store, search=SearchEngine(store, watch), watch=watch)

    async def close(self) -> None:
        await self.db.close()

    async def build(self, seeds: Path) -> BuildReport:
        """Load `seeds` into the store; refuses content that does not pass every check."""
        content, problems = load_seeds(seeds)
        problems = [*problems, *check_content(content)]
        if problems:
            raise ContentError(problems)
        report = await self.store.rebuild(content)
        log.info(
            "built the knowledge store from %s: %d topics, %d stretches, %d tips, %d red flags",
            seeds,
            report.topics,
            report.stretches,
            report.tips,
            report.red_flags,
        )
        return report

    async def ensure_built(self, seeds: Path) -> BuildReport | None:
        """Build when the store is empty (first start) or was built by an older crampbot whose
        red-flag rules this version cannot read; otherwise keep what is there.

        The second case matters for safety: a store upgraded in place would otherwise answer
        with no red-flag rules at all until someone ran `kb build`.
        """
        if await self.store.is_empty() or not await self.store.rules_readable():
            return await self.build(seeds)
        return None
