"""Runs migrations on the connection storage.db hands over, or on LIANJU_DATABASE_URL.

`storage.db.migrate` passes an open connection in `config.attributes["connection"]`; the
`alembic` command line has none, so an engine is built from the settings.
"""

import asyncio
from logging.config import fileConfig
from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from storage.db import create_engine, sqlite_foreign_keys_off
from storage.models import Base, UTCDateTime
from storage.settings import StorageSettings

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def render_item(type_: str, item: object, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations must not import application code that may change later; UTCDateTime's column
    # is a plain timestamp with time zone, and only its Python side differs.
    if type_ == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    # Only Lianju's tables are Lianju's to migrate: others may share the database (on PostgreSQL the
    # scheduler keeps apscheduler_jobs there), and autogenerate would otherwise drop them.
    return type_ != "table" or name in Base.metadata.tables


def configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite's ALTER TABLE is too weak
        # storage.db emits BEGIN itself, so SQLite DDL is transactional too: a migration that
        # fails half-way leaves nothing behind.
        transactional_ddl=True,
        compare_type=True,
        render_item=render_item,
        include_name=include_name,
    )


def run_migrations(connection: Connection) -> None:
    configure(connection)
    with sqlite_foreign_keys_off(connection):
        with context.begin_transaction():
            context.run_migrations()


async def run_migrations_on_settings_database() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or StorageSettings().database_url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run them on a database")
connection = config.attributes.get("connection")
if connection is None:
    asyncio.run(run_migrations_on_settings_database())
else:
    run_migrations(connection)
