"""The in-loop reader (`Database.quick_rows`) and the shared content-version check.

Search runs its small queries in the event loop. These tests hold that to its promises: it
never stalls the loop on a lock (it hands the query to the worker thread instead), it is gone
once the database is closed, and many tasks that find the version stale ask SQLite once.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from knowledge.db import Database, DatabaseError
from knowledge.runtime import Knowledge
from knowledge.store import VersionWatch


async def test_a_busy_database_goes_to_the_worker_thread_without_stalling_the_loop(
    db_copy: Path, tmp_path: Path
) -> None:
    """SQLite answers "busy" at once to the in-loop reader, which then asks the worker thread.

    In WAL mode a reader is only refused during a checkpoint or a recovery, too brief to catch
    in a test, so the in-loop connection here points at a second file that another connection
    holds an exclusive lock on: a real SQLITE_BUSY, from SQLite itself.
    """
    db = await Database.open(db_copy)
    locked_path = tmp_path / "locked.db"
    holder = sqlite3.connect(locked_path, isolation_level=None)
    holder.execute("CREATE TABLE topics (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        expected = await db.quick_rows("SELECT count(*) FROM topics")
        assert expected[0][0] > 20
        db._quick = sqlite3.connect(locked_path, isolation_level=None, check_same_thread=False)
        db._quick.execute("PRAGMA busy_timeout = 0")
        started = time.monotonic()
        rows = await db.quick_rows("SELECT count(*) FROM topics")
        assert rows == expected  # answered by the worker thread's connection to the real file
        assert time.monotonic() - started < 1.0  # no waiting on the lock in the loop
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            await db.quick_rows("SELECT * FROM no_such_table")  # other errors still raise
    finally:
        holder.execute("COMMIT")
        holder.close()
        await db.close()


async def test_quick_reads_after_close_are_a_clear_error(db_copy: Path) -> None:
    db = await Database.open(db_copy)
    await db.close()
    with pytest.raises(DatabaseError, match="closed"):
        await db.quick_rows("SELECT 1")


async def test_a_stale_version_is_asked_of_sqlite_once_by_many_tasks(knowledge: Knowledge) -> None:
    store = knowledge.store
    watch = VersionWatch(store, recheck_seconds=0.0)
    asked = 0
    real = store.content_version

    async def counted() -> int:
        nonlocal asked
        asked += 1
        await asyncio.sleep(0.01)  # long enough for every task to queue behind the first
        return await real()

    store.content_version = counted  # type: ignore[method-assign]
    versions = await asyncio.gather(*(watch.version() for _ in range(20)))
    assert len(set(versions)) == 1
    assert asked == 1
    await watch.version()  # a later request, after the check: asks again (recheck 0 s)
    assert asked == 2
