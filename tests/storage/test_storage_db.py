"""Engines and units of work: URLs, SQLite's pragmas, commit and rollback, concurrent units."""

import asyncio

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import text

from bot.config import Settings
from bot.scheduler import jobstore_url
from storage import repo
from storage.db import Database, async_url, create_engine, migrate
from storage.errors import StorageError


@pytest.mark.parametrize(
    "given, expected",
    [
        ("sqlite:////var/lib/lianju/lianju.sqlite", "sqlite+aiosqlite:////var/lib/lianju/lianju.sqlite"),
        ("sqlite+aiosqlite:///relative.sqlite", "sqlite+aiosqlite:///relative.sqlite"),
        ("postgresql://poet:secret@db:5432/lianju", "postgresql+psycopg://poet:secret@db:5432/lianju"),
        ("postgres://poet@db/lianju", "postgresql+psycopg://poet@db/lianju"),
    ],
)
def test_urls_get_their_async_driver(given, expected):
    assert async_url(given).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize(
    "url, message",
    [
        ("mysql://poet@db/lianju", "unsupported database URL scheme 'mysql'"),
        ("postgresql+psycopg2://poet@db/lianju", "unsupported database URL scheme 'postgresql+psycopg2'"),
        ("postgresql+asyncpg://poet@db/lianju", "unsupported database URL scheme 'postgresql+asyncpg'"),
        ("not a url", "cannot parse the database URL 'not a url'"),
    ],
)
def test_unsupported_urls_are_refused_clearly(url, message):
    with pytest.raises(StorageError, match=message.replace("+", r"\+")):
        async_url(url)


def test_the_default_database_is_a_sqlite_file_in_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LIANJU_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LIANJU_DATABASE_URL", raising=False)
    assert Settings().database_url == f"sqlite+aiosqlite:///{tmp_path / 'lianju.sqlite'}"
    monkeypatch.setenv("LIANJU_DATABASE_URL", "postgresql://poet@db/lianju")
    assert Settings().database_url == "postgresql://poet@db/lianju"


async def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_creates_its_folder(tmp_path):
    path = tmp_path / "not" / "yet" / "there.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert path.is_file()
    finally:
        await engine.dispose()


async def test_a_unit_of_work_commits_on_success_and_rolls_back_on_error(db):
    async with db.unit_of_work() as session:
        await repo.upsert_user(session, repo.DiscordUser(1, "白居易"))
    with pytest.raises(RuntimeError):
        async with db.unit_of_work() as session:
            await repo.upsert_user(session, repo.DiscordUser(2, "元稹"))
            raise RuntimeError("the reply to Discord failed")
    async with db.unit_of_work() as session:
        assert (await repo.get_user(session, 1)).display_name == "白居易"
        assert await repo.get_user(session, 2) is None


async def test_twenty_simultaneous_units_of_work_all_commit(db):
    async def write(number: int) -> None:
        async with db.unit_of_work() as session:
            await repo.upsert_user(session, repo.DiscordUser(100 + number, f"诗人{number}"))

    await asyncio.gather(*(write(number) for number in range(20)))
    async with db.unit_of_work() as session:
        assert await repo.existing_users(session, range(100, 120)) == set(range(100, 120))


async def sqlite_units_inside_at_once(db: Database, units: int) -> int:
    """The most of `units` simultaneous units of work that were inside their block at one time."""
    inside = most = 0

    async def unit() -> None:
        nonlocal inside, most
        async with db.unit_of_work() as session:
            inside += 1
            most = max(most, inside)
            await session.execute(text("SELECT 1"))
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(unit() for _ in range(units)))
    return most


async def test_sqlite_units_of_work_take_turns_in_the_event_loop(tmp_path):
    """Not in SQLite's busy handler, which sleeps up to 100 ms between tries for its write lock."""
    db = Database.connect(f"sqlite:///{tmp_path / 'turns.sqlite'}")
    try:
        assert await sqlite_units_inside_at_once(db, 5) == 1
    finally:
        await db.close()


def test_sqlite_units_of_work_take_turns_in_one_event_loop_after_another(tmp_path):
    db = Database.connect(f"sqlite:///{tmp_path / 'turns.sqlite'}")
    assert asyncio.run(sqlite_units_inside_at_once(db, 3)) == 1
    assert asyncio.run(sqlite_units_inside_at_once(db, 3)) == 1
    asyncio.run(db.close())


async def test_writes_survive_a_new_engine(db, database_url):
    async with db.unit_of_work() as session:
        await repo.upsert_user(session, repo.DiscordUser(3, "刘禹锡"))
    await db.close()
    second = Database.connect(database_url)
    try:
        async with second.unit_of_work() as session:
            assert (await repo.get_user(session, 3)).display_name == "刘禹锡"
    finally:
        await second.close()


async def test_one_driver_serves_the_async_engine_and_the_schedulers_job_store(empty_database_url, tmp_path):
    # psycopg 3 is both the async engine's driver and the synchronous job store's, on one database.
    engine = create_engine(empty_database_url)
    try:
        await migrate(engine, "upgrade", "head")
    finally:
        await engine.dispose()
    job_store = SQLAlchemyJobStore(url=jobstore_url(empty_database_url, tmp_path))
    scheduler = BackgroundScheduler(jobstores={"default": job_store})
    scheduler.start(paused=True)
    try:
        scheduler.add_job(print, "cron", hour=8, id="probe")
        assert str(job_store.lookup_job("probe").trigger) == "cron[hour='8']"
    finally:
        scheduler.shutdown(wait=False)
