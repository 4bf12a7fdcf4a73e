"""Every storage test runs twice: on SQLite, and on the PostgreSQL server named by
LIANJU_TEST_POSTGRES_URL (`make test` starts one with scripts/with-postgres.sh). Without that
variable the PostgreSQL half skips, except under CI=true, where it fails.

Databases are real and migrated with Alembic: SQLite tests get a copy of a migrated file,
PostgreSQL tests share one migrated database that is emptied before each test.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import Database, create_engine, migrate
from storage.models import Base

POSTGRES_ENV = "LIANJU_TEST_POSTGRES_URL"
DIALECTS = ["sqlite", "postgresql"]
_postgres_server: dict[str, str] = {}


def run_in_fresh_loop(make_coroutine: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run async set-up from a sync fixture without touching the test's own event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, make_coroutine()).result()


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(f"{POSTGRES_ENV} is not set, and CI must run the storage tests on PostgreSQL too")
    pytest.skip(f"{POSTGRES_ENV} is not set; `make test` starts a PostgreSQL server for these tests")


def libpq_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _upgrade(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate(engine, "upgrade", "head")
    finally:
        await engine.dispose()


async def _postgres_query(url: str, sql: str) -> Any:
    """One statement outside any transaction (CREATE DATABASE refuses to run in one)."""
    async with await psycopg.AsyncConnection.connect(libpq_dsn(url), autocommit=True) as connection:
        cursor = await connection.execute(sql)
        return (await cursor.fetchone())[0] if cursor.description else None


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "lianju.sqlite"
    run_in_fresh_loop(lambda: _upgrade(f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of the test server's main database, whose version goes into the summary."""
    url = postgres_url()
    _postgres_server["version"] = "PostgreSQL " + run_in_fresh_loop(lambda: _postgres_query(url, "SHOW server_version"))
    return url


@pytest.fixture(scope="session")
def migrated_postgres(postgres_server) -> str:
    run_in_fresh_loop(lambda: _upgrade(postgres_server))
    return postgres_server


@pytest.fixture(params=DIALECTS)
def database_url(request, tmp_path) -> str:
    """A migrated database of the parametrised dialect with no rows (PostgreSQL: emptied by `db`)."""
    if request.param == "postgresql":
        return request.getfixturevalue("migrated_postgres")
    copy = tmp_path / "lianju.sqlite"
    shutil.copy(request.getfixturevalue("migrated_sqlite_template"), copy)
    return f"sqlite+aiosqlite:///{copy}"


@pytest_asyncio.fixture
async def db(database_url) -> AsyncIterator[Database]:
    database = Database.connect(database_url)
    if database.engine.dialect.name == "postgresql":
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        async with database.engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield database
    await database.close()


@pytest.fixture(params=DIALECTS)
def empty_database_url(request, tmp_path) -> Iterator[str]:
    """A database with no tables at all, of the parametrised dialect."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite'}"
        return
    server = request.getfixturevalue("postgres_server")
    name = f"lianju_empty_{uuid.uuid4().hex[:12]}"
    run_in_fresh_loop(lambda: _postgres_query(server, f'CREATE DATABASE "{name}"'))
    yield make_url(server).set(database=name).render_as_string(hide_password=False)
    run_in_fresh_loop(lambda: _postgres_query(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest_asyncio.fixture
async def empty_engine(empty_database_url) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(empty_database_url)
    yield engine
    await engine.dispose()


def pytest_terminal_summary(terminalreporter) -> None:
    """Say in the log how many storage tests really ran on PostgreSQL."""
    outcomes = {
        outcome: sum(
            "tests/storage/" in report.nodeid and "[postgresql" in report.nodeid
            for report in terminalreporter.stats.get(outcome, [])
        )
        for outcome in ("passed", "failed", "error", "skipped")
    }
    outcomes = {outcome: count for outcome, count in outcomes.items() if count}
    if outcomes:
        server = _postgres_server.get("version", "no server")
        counts = ", ".join(f"{count} {outcome}" for outcome, count in outcomes.items())
        terminalreporter.write_line(f"storage tests on PostgreSQL ({server}): {counts}")
