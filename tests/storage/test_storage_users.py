"""Users and guild settings."""

from datetime import time

import pytest

from storage import repo
from storage.errors import InvalidInput
from storage.models import Script
from storage.repo import DiscordUser

GUILD = 3_000_000_003


async def test_users_are_created_then_refreshed(db):
    async with db.unit_of_work() as session:
        created = await repo.upsert_user(session, DiscordUser(8, "苏轼"))
    assert created.script == Script.SIMPLIFIED
    async with db.unit_of_work() as session:
        renamed = await repo.upsert_user(session, DiscordUser(8, "东坡居士"), script="traditional")
    assert (renamed.display_name, renamed.script, renamed.created_at) == (
        "东坡居士",
        Script.TRADITIONAL,
        created.created_at,
    )
    async with db.unit_of_work() as session:
        # A later interaction without a script keeps the preference.
        assert (await repo.upsert_user(session, DiscordUser(8, "苏轼"))).script == Script.TRADITIONAL
        with pytest.raises(InvalidInput, match="script: 'cursive' is not one of: simplified, traditional"):
            await repo.upsert_user(session, DiscordUser(8, "苏轼"), script="cursive")


async def test_guild_settings_start_from_defaults_and_change(db):
    async with db.unit_of_work() as session:
        guild = await repo.configure_guild(session, GUILD)
    assert (guild.locale, guild.script, guild.daily_channel_id, guild.daily_time, guild.timezone) == (
        None,  # the bot's posts follow the players until the server chooses a language
        Script.SIMPLIFIED,
        None,
        time(8, 0),
        "Asia/Shanghai",
    )
    async with db.unit_of_work() as session:
        await repo.configure_guild(
            session,
            GUILD,
            script="traditional",
            daily_channel_id=99,
            daily_time=time(21, 30),
            timezone="America/Vancouver",
        )
        await repo.configure_guild(session, GUILD + 1, locale="en-US")
    async with db.unit_of_work() as session:
        guild = await repo.get_guild(session, GUILD)
        assert (guild.script, guild.daily_channel_id, guild.daily_time, guild.timezone) == (
            Script.TRADITIONAL,
            99,
            time(21, 30),
            "America/Vancouver",
        )
        assert [g.id for g in await repo.guilds_with_daily_poem(session)] == [GUILD]
        await repo.configure_guild(session, GUILD, daily_channel_id=None)
        assert await repo.guilds_with_daily_poem(session) == []


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone: 'Mars/Olympus_Mons' is not an IANA time zone"),
        ({"timezone": "../../etc/passwd"}, "timezone: '../../etc/passwd' is not an IANA time zone"),
        ({"timezone": "Asia"}, "timezone: 'Asia' is not an IANA time zone"),  # a folder of zones, not one
        ({"daily_time": "08:00"}, "daily_time: expected a local time of day"),
        ({"turn_seconds": {"chain": 0}}, "turn_seconds: expected an integer from 1 to 86400"),
        ({"colour": "red"}, "guild settings: unknown ['colour']"),
        ({"locale": ""}, "locale: is empty"),
    ],
)
async def test_bad_guild_settings_are_refused(db, changes, message):
    async with db.unit_of_work() as session:
        with pytest.raises(InvalidInput) as refused:
            await repo.configure_guild(session, GUILD, **changes)
    assert message in str(refused.value)
