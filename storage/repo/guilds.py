"""Guilds: each server's settings (language, script, daily poem, turn clock, poem card), and the
language each channel's posts use."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import limits
from storage.errors import InvalidInput
from storage.models import Channel, GameKind, Guild, Script, utcnow
from storage.repo.common import dialect_insert, parse_enum


def _daily_time(value: object) -> time:
    if not isinstance(value, time) or value.tzinfo is not None:
        raise InvalidInput("daily_time", f"expected a local time of day without time zone, got {value!r}")
    return value


def _turn_seconds(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        raise InvalidInput("turn_seconds", f"expected seconds by game kind, got {value!r}")
    return {
        parse_enum("game kind", GameKind, kind).value: limits.integer(
            "turn_seconds", seconds, 1, limits.TURN_SECONDS_MAX
        )
        for kind, seconds in value.items()
    }


def _flag(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(field, f"expected true or false, got {value!r}")
    return value


def _optional_label(field: str, value: object) -> str | None:
    return None if value is None else limits.text(field, value, limits.SHORT_LABEL_MAX)


GUILD_SETTINGS: dict[str, Callable[[object], object]] = {
    "locale": lambda value: _optional_label("locale", value),
    "script": lambda value: parse_enum("script", Script, value),
    "daily_channel_id": lambda value: limits.optional_snowflake("daily_channel_id", value),
    "daily_time": _daily_time,
    "timezone": limits.timezone_name,
    "default_form": lambda value: limits.text("default_form", value, limits.SHORT_LABEL_MAX),
    "turn_seconds": _turn_seconds,
    "poem_card": lambda value: _flag("poem_card", value),
}


async def configure_guild(session: AsyncSession, guild_id: int, **changes: object) -> Guild:
    """Create the guild's settings on first use and apply `changes` (keys of GUILD_SETTINGS)."""
    unknown = set(changes) - set(GUILD_SETTINGS)
    if unknown:
        raise InvalidInput("guild settings", f"unknown {sorted(unknown)}; known: {sorted(GUILD_SETTINGS)}")
    values = {name: GUILD_SETTINGS[name](value) for name, value in changes.items()}
    guild_id = limits.snowflake("guild id", guild_id)
    await session.execute(dialect_insert(session, Guild).values(id=guild_id).on_conflict_do_nothing())
    # Locked until the transaction ends, so that a caller that reads a setting to change it (a
    # game's turn seconds inside the turn_seconds map) does not lose a change made meanwhile on
    # PostgreSQL. (SQLite's BEGIN IMMEDIATE already serialises every writer.)
    guild = await session.get_one(Guild, guild_id, populate_existing=True, with_for_update=True)
    for name, value in values.items():
        setattr(guild, name, value)
    await session.flush()
    return guild


async def get_guild(session: AsyncSession, guild_id: int) -> Guild | None:
    return await session.get(Guild, limits.snowflake("guild id", guild_id))


async def guilds_with_daily_poem(session: AsyncSession) -> list[Guild]:
    result = await session.scalars(select(Guild).where(Guild.daily_channel_id.is_not(None)).order_by(Guild.id))
    return list(result)


async def remember_channel_locale(session: AsyncSession, channel_id: int, guild_id: int | None, locale: str) -> None:
    """Note the language of the last person who played in a channel."""
    values = dict(
        id=limits.snowflake("channel id", channel_id),
        guild_id=limits.optional_snowflake("guild id", guild_id),
        locale=limits.text("locale", locale, limits.SHORT_LABEL_MAX),
    )
    insert = dialect_insert(session, Channel).values(**values)
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=[Channel.id], set_=dict(locale=values["locale"], updated_at=utcnow())
        )
    )


async def channel_locale(session: AsyncSession, channel_id: int) -> str | None:
    """The language of the channel's posts: its guild's choice, else its last player's; None when neither is known."""
    channel = await session.get(Channel, limits.snowflake("channel id", channel_id))
    if channel is None:
        return None
    guild = None if channel.guild_id is None else await session.get(Guild, channel.guild_id)
    return guild.locale if guild is not None and guild.locale else channel.locale
