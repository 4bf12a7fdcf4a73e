"""Guilds: each server's settings (language, script, daily poem, turn clock)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import limits
from storage.errors import InvalidInput
from storage.models import Guild, Script
from storage.repo.common import dialect_insert, parse_enum


def _daily_time(value: object) -> time:
    if not isinstance(value, time) or value.tzinfo is not None:
        raise InvalidInput("daily_time", f"expected a local time of day without time zone, got {value!r}")
    return value


GUILD_SETTINGS: dict[str, Callable[[object], object]] = {
    "locale": lambda value: limits.text("locale", value, limits.SHORT_LABEL_MAX),
    "script": lambda value: parse_enum("script", Script, value),
    "daily_channel_id": lambda value: limits.optional_snowflake("daily_channel_id", value),
    "daily_time": _daily_time,
    "timezone": limits.timezone_name,
    "default_form": lambda value: limits.text("default_form", value, limits.SHORT_LABEL_MAX),
    "turn_seconds": lambda value: limits.integer("turn_seconds", value, 10, limits.TURN_SECONDS_MAX),
}


async def configure_guild(session: AsyncSession, guild_id: int, **changes: object) -> Guild:
    """Create the guild's settings on first use and apply `changes` (keys of GUILD_SETTINGS)."""
    unknown = set(changes) - set(GUILD_SETTINGS)
    if unknown:
        raise InvalidInput("guild settings", f"unknown {sorted(unknown)}; known: {sorted(GUILD_SETTINGS)}")
    values = {name: GUILD_SETTINGS[name](value) for name, value in changes.items()}
    guild_id = limits.snowflake("guild id", guild_id)
    await session.execute(dialect_insert(session, Guild).values(id=guild_id).on_conflict_do_nothing())
    guild = await session.get_one(Guild, guild_id, populate_existing=True)
    for name, value in values.items():
        setattr(guild, name, value)
    await session.flush()
    return guild


async def get_guild(session: AsyncSession, guild_id: int) -> Guild | None:
    return await session.get(Guild, limits.snowflake("guild id", guild_id))


async def guilds_with_daily_poem(session: AsyncSession) -> list[Guild]:
    result = await session.scalars(select(Guild).where(Guild.daily_channel_id.is_not(None)).order_by(Guild.id))
    return list(result)
