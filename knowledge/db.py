"""The SQLite database: connections, pragmas, transactions and numbered migrations.

Separate connections on purpose. Writes go through one connection in explicit transactions;
reads use another, so with WAL a reader always sees the last committed state (old content or
new, never a half-built mix) even while a rebuild is running in the same process. A third,
query-only connection answers small bounded reads in the event loop itself (`quick_rows`),
where the round trip to aiosqlite's worker thread would cost more than the query.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

import aiosqlite

from knowledge.errors import ExpectedError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
_MIGRATION_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")


class DatabaseError(ExpectedError):
    """A database problem worth a clear message (not a traceback) for the operator."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def bundled_migrations() -> list[Migration]:
    """The migrations shipped in `knowledge/migrations`, in version order."""
    found: list[Migration] = []
    for entry in resources.files("knowledge.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(
                Migration(int(match["version"]), match["name"], entry.read_text(encoding="utf-8"))
            )
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise DatabaseError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


async def _connect(path: Path) -> aiosqlite.Connection:
    """A configured connection; on any failure it is closed, so no worker thread lingers."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise DatabaseError(f"cannot open the database at {path}: {exc}") from exc
    try:
        conn.row_factory = sqlite3.Row
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        await conn.close()
        raise DatabaseError(_explain(path, exc)) from exc
    except BaseException:
        await conn.close()
        raise
    return conn


def _explain(path: Path, exc: sqlite3.Error) -> str:
    """What went wrong opening `path`, blaming the right thing.

    SQLite says "readonly database" when the file or its folder cannot be written (WAL needs to
    create files beside it): that is a permissions problem, not a broken database.
    """
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        unwritable = [p for p in (path, path.parent) if p.exists() and not os.access(p, os.W_OK)]
        where = " and ".join(str(p) for p in unwritable) or f"{path} or its folder"
        user = getpass.getuser()
        return (
            f"cannot write the database: {where} is not writable by user {user!r} "
            f"(SQLite said: {text}). Give that user the folder, for example "
            f"`chown -R {user} {path.parent}`"
        )
    return f"{path} is not a usable SQLite database: {text}"


def _connect_quick(path: Path) -> sqlite3.Connection:
    """The in-loop reader behind `Database.quick_rows`: query-only, and it never waits on a lock."""
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA query_only = 1")
        conn.execute("PRAGMA busy_timeout = 0")
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot open the database at {path}: {exc}") from exc
    return conn


class Database:
    """One SQLite file: a writer connection for transactions and a reader for queries."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection):
        self.path = path
        self.writer = writer
        self.reader = reader
        self._quick: sqlite3.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | str, *, migrate: bool = True) -> Database:
        """Open (creating the file and its folder if needed) and bring the schema up to date."""
        path = Path(path)
        writer = await _connect(path)
        try:
            db = cls(path, writer, await _connect(path))
        except BaseException:
            await writer.close()
            raise
        try:
            if migrate:
                await db.migrate()
            db._quick = _connect_quick(path)
        except BaseException:
            await db.close()
            raise
        return db

    async def close(self) -> None:
        if self._quick is not None:
            self._quick.close()
            self._quick = None
        await self.reader.close()
        await self.writer.close()

    async def quick_rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """The rows of a small query with bounded work, run in the event loop itself.

        Handing a query to aiosqlite's worker thread and back costs more than a 100 µs FTS5
        query (two thread switches and a GIL hand-off), and under load that round trip is what
        search throughput waits on (py-spy under bench/api.py). So only queries whose work is
        bounded use this (search ranking: at most `MATCH_BUDGET` rows). If SQLite is busy, which
        in WAL mode only a checkpoint or a recovery makes it, the query goes to the worker
        thread rather than stall the loop.
        """
        if self._quick is None:
            raise DatabaseError(f"the database at {self.path} is closed")
        try:
            return self._quick.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
            return [tuple(row) for row in await self.reader.execute_fetchall(sql, params)]

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction (BEGIN IMMEDIATE): all of it commits, or none of it."""
        async with self._write_lock:
            await self.writer.execute("BEGIN IMMEDIATE")
            try:
                yield self.writer
            except BaseException:
                await self.writer.execute("ROLLBACK")
                raise
            await self.writer.execute("COMMIT")

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[aiosqlite.Connection]:
        """A read transaction: several queries that see one consistent state."""
        async with self._read_lock:
            await self.reader.execute("BEGIN")
            try:
                yield self.reader
            finally:
                await self.reader.execute("COMMIT")

    async def backup(self, target: Path) -> int:
        """Copy the database with SQLite's online backup, consistent even while others write.

        Written to a temporary file beside `target` and renamed into place, so a reader of
        `target` never sees half a copy. Returns the number of pages copied.
        """
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        partial.unlink(missing_ok=True)
        copy = await aiosqlite.connect(partial)
        try:
            await self.reader.backup(copy)
            rows = await copy.execute_fetchall("PRAGMA page_count")
            pages = int(next(iter(rows))[0])
        finally:
            await copy.close()
        partial.replace(target)
        return pages

    async def schema_version(self) -> int:
        async with self.reader.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        ) as cursor:
            if await cursor.fetchone() is None:
                return 0
        async with self.reader.execute(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self, migrations: list[Migration] | None = None) -> list[int]:
        """Apply every migration newer than the database, each in its own transaction."""
        migrations = bundled_migrations() if migrations is None else migrations
        await self.writer.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        current = await self.schema_version()
        latest = migrations[-1].version if migrations else 0
        if current > latest:
            raise DatabaseError(
                f"{self.path} has schema version {current}, newer than this crampbot "
                f"({latest}); upgrade crampbot or point CRAMPBOT_DB at another file"
            )
        applied: list[int] = []
        for migration in migrations:
            if migration.version <= current:
                continue
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            async with self._write_lock:
                try:
                    await self.writer.executescript(
                        f"BEGIN IMMEDIATE;\n{migration.sql}\n"
                        "INSERT INTO schema_migrations (version, name, applied_at) "
                        f"VALUES ({migration.version}, '{migration.name}', '{stamp}');\nCOMMIT;"
                    )
                except sqlite3.Error as exc:
                    if self.writer.in_transaction:
                        await self.writer.execute("ROLLBACK")
                    raise DatabaseError(
                        f"migration {migration.version:04d}_{migration.name} failed: {exc}"
                    ) from exc
            log.info("applied migration %04d_%s", migration.version, migration.name)
            applied.append(migration.version)
        return applied
