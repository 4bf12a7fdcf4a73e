"""Fixtures for the games: a migrated SQLite database per test, the real poet, the fixture corpus."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import pytest_asyncio

from bot.config import SHIPPED_MODEL
from engine.corpus import LineIndex
from engine.poet import Poet
from storage.db import Database, create_engine, ensure_schema


async def _schema_as_at_start_up(url: str) -> None:
    engine = create_engine(url)
    try:
        await ensure_schema(engine, upgrade=True)  # what the bot does when it starts
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("games-template") / "lianju.sqlite"
    with ThreadPoolExecutor(max_workers=1) as pool:  # outside the tests' event loops
        pool.submit(asyncio.run, _schema_as_at_start_up(f"sqlite:///{path}")).result()
    return path


@pytest.fixture
def database_url(migrated_template, tmp_path) -> str:
    copy = tmp_path / "lianju.sqlite"
    shutil.copy(migrated_template, copy)
    return f"sqlite:///{copy}"


@pytest_asyncio.fixture
async def db(database_url) -> AsyncIterator[Database]:
    database = Database.connect(database_url)
    yield database
    await database.close()


@pytest_asyncio.fixture
async def poet() -> AsyncIterator[Poet]:
    """The shipped model on the CPU; one per test because its batcher belongs to the test's loop."""
    writer = Poet(SHIPPED_MODEL, "cpu-fp32")
    yield writer
    await writer.close()


@pytest.fixture(scope="session")
def line_index(built_corpus) -> LineIndex:
    return LineIndex(built_corpus / "corpus.sqlite")
