"""Safety defaults through the real bot: per-person limits on /poem and game starts, owner
commands hidden from members, and pings only for the player whose turn it is."""

from __future__ import annotations

import pytest
from fake_discord import CHANNEL_ID
from test_games import WANG_WEI, play, posted


@pytest.fixture
def limited_settings(bot_settings, built_corpus):
    bot_settings.corpus_dir.parent.mkdir(parents=True, exist_ok=True)
    bot_settings.corpus_dir.symlink_to(built_corpus, target_is_directory=True)
    return bot_settings.model_copy(update={"poems_per_minute": 1, "game_starts_per_minute": 1})


async def test_poems_and_game_starts_are_limited_per_person(fake_discord, bots, limited_settings):
    await bots.start(limited_settings)
    first = await (await fake_discord.command("poem", {"theme": "月"})).answered()
    assert first.original["embeds"]
    again = await (await fake_discord.command("poem", {"theme": "花"})).answered()
    assert again.original["content"].startswith("太快了，请") and not again.original["embeds"]
    other = await (await fake_discord.command("poem", {"theme": "花"}, user_id=1_300_000_000_000_000_077)).answered()
    assert other.original["embeds"]  # the limit is per person

    assert "飞花令开始" in await play(fake_discord, "feihua", "start", {"key": "花"})
    assert "游戏已结束" in await play(fake_discord, "feihua", "stop")
    assert "Too fast" in await play(fake_discord, "chain", "start", {"form": "qijue"}, locale="en-US")
    assert fake_discord.violations == []


async def test_owner_commands_are_hidden_from_members(fake_discord, bots, bot_settings):
    await bots.start(bot_settings)
    permissions = {command["name"]: command.get("default_member_permissions") for command in fake_discord.commands}
    assert str(permissions["model"]) == str(permissions["lianju"]) == "8"  # administrators only
    assert permissions["poem"] is None and permissions["forgetme"] is None


async def test_only_the_player_whose_turn_it_is_is_pinged(fake_discord, bots, limited_settings):
    await bots.start(limited_settings)
    started = await play(fake_discord, "feihua", "start", {"key": "花", "turn_seconds": 5}, who=WANG_WEI)
    assert "轮到王维" in started
    reminded = await posted(fake_discord, CHANNEL_ID, lambda m: m["content"].startswith("⏳"), 10)
    assert [user["id"] for user in reminded["mentions"]] == [str(WANG_WEI[0])]
