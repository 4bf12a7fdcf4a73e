"""A guild's settings (turn seconds per game, /poem's form, the post language, the poem card) and the
language each channel's posts remember, on both dialects; revision 0002 carries old guilds over."""

import asyncio

import pytest
from sqlalchemy import text

from storage import repo
from storage.db import migrate
from storage.errors import InvalidInput

GUILD, CHANNEL = 4_000_000_101, 4_000_000_201


async def test_a_new_guild_has_the_defaults_and_keeps_what_is_set(db):
    async with db.unit_of_work() as session:
        guild = await repo.configure_guild(session, GUILD)
        assert (guild.locale, guild.default_form, guild.turn_seconds, guild.poem_card) == (None, "auto", {}, True)
    async with db.unit_of_work() as session:
        await repo.configure_guild(session, GUILD, turn_seconds={"chain": 30, "duilian": 2}, poem_card=False)
        await repo.configure_guild(session, GUILD, locale="en", default_form="wulv")
    async with db.unit_of_work() as session:
        guild = await repo.get_guild(session, GUILD)
        assert guild is not None
        assert (guild.locale, guild.default_form, guild.turn_seconds, guild.poem_card) == (
            "en",
            "wulv",
            {"chain": 30, "duilian": 2},
            False,
        )


async def test_two_managers_setting_two_games_turns_at_once_keep_both(db):
    async def set_turn(kind: str, seconds: int) -> None:
        async with db.unit_of_work() as session:  # read the map, change one game's entry (as Services does)
            guild = await repo.configure_guild(session, GUILD)
            chosen = dict(guild.turn_seconds)
            await asyncio.sleep(0.05)  # the other manager reads meanwhile
            await repo.configure_guild(session, GUILD, turn_seconds={**chosen, kind: seconds})

    async with db.unit_of_work() as session:
        await repo.configure_guild(session, GUILD)
    await asyncio.gather(set_turn("chain", 60), set_turn("feihua", 30))
    async with db.unit_of_work() as session:
        guild = await repo.get_guild(session, GUILD)
        assert guild is not None and guild.turn_seconds == {"chain": 60, "feihua": 30}


@pytest.mark.parametrize(
    "changes",
    [
        {"turn_seconds": {"chess": 30}},
        {"turn_seconds": {"chain": 0}},
        {"turn_seconds": {"chain": 10**20}},
        {"turn_seconds": 30},
        {"poem_card": "yes"},
        {"locale": "\x01"},
    ],
)
async def test_bad_settings_are_refused(db, changes):
    async with db.unit_of_work() as session:
        with pytest.raises(InvalidInput):
            await repo.configure_guild(session, GUILD, **changes)


async def test_a_channel_speaks_its_guilds_language_else_its_last_players(db):
    async with db.unit_of_work() as session:
        assert await repo.channel_locale(session, CHANNEL) is None
        await repo.remember_channel_locale(session, CHANNEL, GUILD, "zh-TW")
        await repo.remember_channel_locale(session, CHANNEL + 1, None, "zh-CN")
    async with db.unit_of_work() as session:
        await repo.remember_channel_locale(session, CHANNEL, GUILD, "en")
        assert await repo.channel_locale(session, CHANNEL) == "en"
        await repo.configure_guild(session, GUILD, locale="zh-TW")
    async with db.unit_of_work() as session:
        assert await repo.channel_locale(session, CHANNEL) == "zh-TW"
        assert await repo.channel_locale(session, CHANNEL + 1) == "zh-CN"


async def test_revision_0002_carries_a_guild_over_and_back(empty_engine):
    await migrate(empty_engine, "upgrade", "0001")
    async with empty_engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO guilds (id, locale, script, daily_channel_id, daily_time, timezone, default_form,"
                " turn_seconds, created_at, updated_at) VALUES (:id, 'zh-CN', 'traditional', 7, '07:30:00',"
                " 'Asia/Taipei', 'qijue', 120, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"id": GUILD},
        )
    await migrate(empty_engine, "upgrade", "head")
    async with empty_engine.connect() as connection:
        row = (await connection.execute(text("SELECT * FROM guilds"))).mappings().one()
    assert (row["locale"], row["default_form"], row["script"], row["daily_channel_id"]) == (
        None,
        "auto",
        "traditional",
        7,
    )
    assert row["turn_seconds"] in ({}, "{}") and row["poem_card"] in (True, 1)
    await migrate(empty_engine, "downgrade", "0001")
    async with empty_engine.connect() as connection:
        row = (await connection.execute(text("SELECT * FROM guilds"))).mappings().one()
    assert (row["locale"], row["default_form"], row["turn_seconds"], row["script"]) == (
        "zh-CN",
        "qijue",
        120,
        "traditional",
    )
