"""Shared fixtures: real SQLite files in temporary folders, built from the real `seeds/`."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from knowledge.runtime import Knowledge
from knowledge.settings import BUNDLED_SEEDS


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return BUNDLED_SEEDS


@pytest.fixture(scope="session")
def shipped_db(tmp_path_factory: pytest.TempPathFactory, seeds_dir: Path) -> Path:
    """One store built from the shipped seeds; tests copy it rather than rebuild it."""
    path = tmp_path_factory.mktemp("shipped") / "crampbot.db"

    async def build() -> None:
        knowledge = await Knowledge.open(path)
        try:
            await knowledge.build(seeds_dir)
        finally:
            await knowledge.close()

    asyncio.run(build())
    return path


@pytest.fixture
def db_copy(shipped_db: Path, tmp_path: Path) -> Path:
    """A private copy of the shipped store that a test may change."""
    target = tmp_path / "crampbot.db"
    shutil.copyfile(shipped_db, target)
    return target


@pytest.fixture
async def knowledge(db_copy: Path) -> AsyncIterator[Knowledge]:
    opened = await Knowledge.open(db_copy)
    try:
        yield opened
    finally:
        await opened.close()
