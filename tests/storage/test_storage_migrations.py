"""Alembic: the migrations build exactly the models, both ways, ship with the package, and the bot
refuses a stale schema."""

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Float, MetaData, String, Table, create_engine, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import alembic_config, current_revision, ensure_schema, head_revision, migrate, sqlite_foreign_keys_off
from storage.errors import SchemaOutOfDate, StorageError
from storage.models import Base

REPO = Path(__file__).resolve().parents[2]
LIANJU = Path(sys.executable).with_name("lianju")
ALEMBIC = Path(sys.executable).with_name("alembic")


async def differences(engine) -> list:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata)
        )


async def table_names(engine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_upgrade_on_an_empty_database_matches_the_models(empty_engine):
    assert await current_revision(empty_engine) is None
    await migrate(empty_engine, "upgrade", "head")
    assert await current_revision(empty_engine) == head_revision()
    assert await differences(empty_engine) == []
    assert {table.name for table in Base.metadata.sorted_tables} <= await table_names(empty_engine)


async def test_downgrade_to_base_and_back(empty_engine):
    await migrate(empty_engine, "upgrade", "head")
    await migrate(empty_engine, "downgrade", "base")
    assert await current_revision(empty_engine) is None
    assert await table_names(empty_engine) <= {"alembic_version"}
    await migrate(empty_engine, "upgrade", "head")
    assert await differences(empty_engine) == []


def test_history_is_one_line():
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1 and len(script.get_bases()) == 1
    revisions = list(script.walk_revisions())
    assert all(not isinstance(revision.down_revision, tuple) for revision in revisions)


async def test_ensure_schema_refuses_an_old_schema_then_upgrades(empty_engine):
    with pytest.raises(SchemaOutOfDate) as refused:
        await ensure_schema(empty_engine, upgrade=False)
    message = str(refused.value)
    assert "(empty database)" in message and head_revision() in message and "lianju db upgrade" in message
    assert await current_revision(empty_engine) is None  # refusing changed nothing

    assert await ensure_schema(empty_engine, upgrade=True) == head_revision()
    assert await ensure_schema(empty_engine, upgrade=False) == head_revision()


async def test_ensure_schema_refuses_a_revision_from_a_newer_version(empty_engine):
    await migrate(empty_engine, "upgrade", "head")
    async with empty_engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    for upgrade in (False, True):
        with pytest.raises(SchemaOutOfDate, match="f00dfeed.*newer version of Lianju"):
            await ensure_schema(empty_engine, upgrade=upgrade)


async def test_migrating_to_an_unknown_revision_says_so(empty_engine):
    with pytest.raises(StorageError, match="cannot upgrade to 'nonesuch'"):
        await migrate(empty_engine, "upgrade", "nonesuch")


def run_command(*command: str, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LIANJU_DATABASE_URL": database_url}
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("empty_database_url", ["sqlite"], indirect=True)
def test_lianju_db_upgrade_and_current(empty_database_url):
    before = run_command(str(LIANJU), "db", "current", database_url=empty_database_url)
    assert before.returncode == 1 and f"empty.sqlite)  expected: {head_revision()}" in before.stdout  # none yet

    upgraded = run_command(str(LIANJU), "db", "upgrade", database_url=empty_database_url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"is at revision {head_revision()}" in upgraded.stdout

    after = run_command(str(LIANJU), "db", "current", database_url=empty_database_url)
    assert after.returncode == 0 and f"database: {head_revision()}" in after.stdout

    again = run_command(str(LIANJU), "db", "upgrade", "0001", database_url=empty_database_url)
    assert again.returncode == 0 and "past 0001: nothing to do" in " ".join(again.stdout.split())


def test_lianju_db_upgrade_reports_a_bad_url_cleanly():
    done = run_command(str(LIANJU), "db", "upgrade", database_url="mysql://someone@localhost/db")
    assert done.returncode == 2
    assert "unsupported database URL scheme 'mysql'" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("empty_database_url", ["sqlite"], indirect=True)
def test_the_alembic_command_line_uses_lianju_database_url(empty_database_url):
    upgraded = run_command(str(ALEMBIC), "upgrade", "head", database_url=empty_database_url)
    assert upgraded.returncode == 0, upgraded.stderr
    current = run_command(str(ALEMBIC), "current", database_url=empty_database_url)
    assert current.returncode == 0 and f"{head_revision()} (head)" in current.stdout


async def add_a_table_of_someone_elses(database_url: str) -> None:
    """What the scheduler's job store adds to the database it shares on PostgreSQL."""
    theirs = MetaData()
    Table(
        "apscheduler_jobs",
        theirs,
        Column("id", String(191), primary_key=True),
        Column("next_run_time", Float, index=True),
    )
    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(theirs.create_all)
    await engine.dispose()


def test_alembic_check_leaves_other_tables_in_the_database_alone(empty_database_url):
    assert run_command(str(ALEMBIC), "upgrade", "head", database_url=empty_database_url).returncode == 0
    asyncio.run(add_a_table_of_someone_elses(empty_database_url))
    checked = run_command(str(ALEMBIC), "check", database_url=empty_database_url)
    assert checked.returncode == 0 and "No new upgrade operations detected" in checked.stdout + checked.stderr


def not_built(folder: str, names: list[str]) -> set[str]:
    """What the build does not read: caches, and the checkout's own environment, tests and data."""
    skipped = set(shutil.ignore_patterns("__pycache__", "*.egg-info", "*.sqlite*")(folder, names))
    if Path(folder) == REPO:
        skipped |= {".git", ".venv", ".pytest_cache", "build", "dist", "data", "tests"} & set(names)
    return skipped


def test_a_non_editable_install_migrates_a_new_database_and_reads_its_rhyme_book(tmp_path):
    # Built from a copy, because pip builds in the source folder and would leave build/ in the checkout.
    source, target, database = tmp_path / "source", tmp_path / "installed", tmp_path / "new.sqlite"
    shutil.copytree(REPO, source, ignore=not_built)
    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-build-isolation",
            "--no-compile",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    shutil.rmtree(source)  # nothing may come from the source tree any more

    # PYTHONPATH comes before site-packages, and the editable install's finder (a meta path hook
    # appended after the path finder) only answers what the path does not: the installed copy wins.
    env = {**os.environ, "PYTHONPATH": str(target), "LIANJU_DATABASE_URL": f"sqlite:///{database}"}
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import storage.db, bot.cli, engine.prosody as prosody; print(storage.db.MIGRATIONS_DIR); "
            "print(bot.cli.__file__); print(prosody.__file__); print(prosody.char_tone('月').source)",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert where.returncode == 0, where.stderr
    *paths, rhyme_source = where.stdout.split()
    assert [Path(path).is_relative_to(target) for path in paths] == [True] * 3, where.stdout
    assert rhyme_source == "pingshui"  # the vendored rhyme book is package data too

    upgraded = subprocess.run(
        [str(target / "bin" / "lianju"), "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert upgraded.returncode == 0, upgraded.stderr
    with sqlite3.connect(database) as connection:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert {table.name for table in Base.metadata.sorted_tables} <= tables and revision == (head_revision(),)


def test_a_ctrl_c_during_a_sqlite_migration_stays_a_ctrl_c(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'lianju.db'}")
    with engine.connect() as connection, pytest.raises(KeyboardInterrupt):
        with sqlite_foreign_keys_off(connection):
            connection.invalidate()  # what SQLAlchemy does to a connection a Ctrl-C interrupts mid-statement
            raise KeyboardInterrupt
    engine.dispose()
