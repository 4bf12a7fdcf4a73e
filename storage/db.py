"""Engines, units of work and migrations.

`Database.connect(url)` is the one place an engine is built. The URL comes from
`LIANJU_DATABASE_URL` (storage/settings.py; default: `lianju.sqlite` in the data folder). Plain
`sqlite:///…` and `postgresql://…` URLs are given their async drivers: aiosqlite, and psycopg 3, whose
one package also serves the scheduler's synchronous job store (the `postgres` extra).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager, nullcontext
from importlib import resources
from pathlib import Path
from typing import Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from storage.errors import SchemaOutOfDate, StorageError

ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}
SUPPORTED_DRIVERS = {"sqlite+aiosqlite", "postgresql+psycopg"}
# How long a SQLite writer waits for another's transaction before "database is locked".
SQLITE_BUSY_TIMEOUT_S = 30


def async_url(url: str | URL) -> URL:
    """`url` with its async driver; refuses databases and drivers storage is not tested on."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError(f"cannot parse the database URL {str(url)!r}") from None
    parsed = parsed.set(drivername=ASYNC_DRIVERS.get(parsed.drivername, parsed.drivername))
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise StorageError(
            f"unsupported database URL scheme {parsed.drivername!r}: use sqlite:///PATH or "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
        )
    return parsed


def create_engine(url: str | URL) -> AsyncEngine:
    url = async_url(url)
    if url.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    event.listen(engine.sync_engine, "connect", _configure_sqlite_connection)
    event.listen(engine.sync_engine, "begin", _begin_immediate)
    return engine


def _configure_sqlite_connection(dbapi_connection, _record) -> None:
    # sqlite3's own BEGIN is deferred and skipped before SELECT; SQLAlchemy emits BEGIN instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers run while one writer commits; SQLite leaves foreign keys off unless asked.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(connection: Connection) -> None:
    # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when another
    # connection wrote in between; IMMEDIATE takes the write lock up front and waits for it instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """An engine and its sessions. One unit of work = one session = one transaction."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._turns: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    @classmethod
    def connect(cls, url: str | URL) -> Database:
        return cls(create_engine(url))

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed when the block ends, rolled back if it raises."""
        async with self._turn(), self._sessions.begin() as session:
            yield session

    def _turn(self) -> AbstractAsyncContextManager[object]:
        """SQLite's units of work take turns on an asyncio lock. Each takes SQLite's write lock up front
        (_begin_immediate), and a connection that finds it taken polls SQLite's busy handler, sleeping up to
        100 ms between tries: 20 simultaneous /poem spent a second queueing for it (bench/bot.py). The busy
        handler still arbitrates between processes (the CLI beside the bot)."""
        if self.engine.dialect.name != "sqlite":
            return nullcontext()
        loop = asyncio.get_running_loop()
        if self._turns is None or self._turns[0] is not loop:  # an asyncio lock serves one event loop
            self._turns = (loop, asyncio.Lock())
        return self._turns[1]

    async def erase_deleted(self) -> None:
        """Make deleted rows unreadable in the database's files too. SQLite keeps a deleted row's bytes
        in free pages and in its write-ahead log until they are reused; VACUUM rewrites the file
        without them and the TRUNCATE checkpoint empties the log. (A PostgreSQL server's files are
        not the data folder's, and its autovacuum reclaims dead rows on its own.)"""
        if self.engine.dialect.name != "sqlite":
            return
        async with self.engine.connect() as connection:
            # On the driver's own connection: SQLAlchemy's would open a transaction (BEGIN IMMEDIATE,
            # see _begin_immediate), inside which SQLite refuses to VACUUM.
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None, "an open connection has its driver's connection"
            await driver.execute("VACUUM")
            await driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def close(self) -> None:
        await self.engine.dispose()


# --- migrations ------------------------------------------------------------------------------


# Package data (pyproject.toml), so an installed storage migrates as well as the source tree does.
MIGRATIONS_DIR = resources.files("storage") / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for our migrations, optionally bound to an open connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "storage/migrations/versions holds no revision"
    return head


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at; None for an empty database."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current_revision)


async def migrate(engine: AsyncEngine, direction: Literal["upgrade", "downgrade"], revision: str) -> None:
    def run(connection: Connection) -> None:
        step = command.upgrade if direction == "upgrade" else command.downgrade
        if not revision.strip():
            raise StorageError(f"cannot {direction} to an empty revision: name one (head, base, 0001, +1 …)")
        try:
            step(alembic_config(connection), revision)
        except CommandError as error:
            raise StorageError(f"cannot {direction} to {revision!r}: {error}") from None
        except AssertionError:  # how alembic refuses a relative revision past either end (head+5)
            raise StorageError(f"cannot {direction} to {revision!r}: there is no such revision") from None

    async with engine.connect() as connection:
        await connection.run_sync(run)


async def ensure_schema(engine: AsyncEngine, *, upgrade: bool) -> str:
    """Make sure the schema is at head before the bot uses it; return the revision.

    With `upgrade`, an older schema is migrated; without, it is refused with `SchemaOutOfDate`.
    A revision this code does not know (the database was migrated by a newer Lianju) is always
    refused: downgrading it would lose data.
    """
    head = head_revision()
    current = await current_revision(engine)
    if current == head:
        return head
    if current is not None and not _is_known(current):
        raise SchemaOutOfDate(
            current, head, "it was migrated by a newer version of Lianju: run that version, or restore a backup"
        )
    if not upgrade:
        raise SchemaOutOfDate(current, head, "run `lianju db upgrade` first")
    await migrate(engine, "upgrade", "head")
    return head


def _is_known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


@contextmanager
def sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """Foreign keys off for the duration of a migration, then checked.

    Batch migrations rebuild a SQLite table by copying it and dropping the old one, and with
    foreign keys on, that DROP deletes (or nulls) every row referring to it. The pragma is a no-op
    inside a transaction, so it goes to the driver connection before alembic begins one.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None, "an open connection holds its driver connection"
    dbapi_connection.cursor().execute("PRAGMA foreign_keys=OFF")
    try:
        yield
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        connection.commit()
        if broken:
            raise StorageError(f"the migration left rows with dangling foreign keys: {broken[:10]}")
    finally:
        # A Ctrl-C in the middle of a statement invalidates (closes) the connection, and the pool drops
        # it: there is nothing to switch back, and trying would hide the KeyboardInterrupt.
        if not connection.invalidated:
            dbapi_connection.cursor().execute("PRAGMA foreign_keys=ON")
