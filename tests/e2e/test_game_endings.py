"""Every game to its end through the real bot and the fake Discord, with a restart in the middle of
each: turn lengths come from the settings (the bot's defaults, or the server's /settings), so the
deadlines pass in seconds. Posts made after a restart keep the channel's language."""

from __future__ import annotations

import re

import pytest
from fake_discord import CHANNEL_ID, EPHEMERAL
from test_games import DU_FU, LI_BAI, corpus_line, play, posted

from bot.config import Settings
from engine.text import to_traditional

MANAGE_GUILD = str(1 << 5)
SHORT_TURN_S = 2  # the bot plays on its own, so nobody has to be quick
ANSWER_TURN_S = 5  # a player answers within it, while the bot restarts after it


@pytest.fixture
def quick_settings(game_settings) -> Settings:
    return game_settings.model_copy(
        update=dict(
            chain_turn_seconds=SHORT_TURN_S, feihua_turn_seconds=ANSWER_TURN_S, duilian_turn_seconds=ANSWER_TURN_S
        )
    )


async def restart(bots, bot, settings: Settings):
    await bots.stop(bot)
    return await bots.start(settings)


async def settings_command(fake, subcommand: str, options: dict | None = None, **extra) -> dict:
    record = await fake.command("settings", options or {}, subcommand=subcommand, permissions=MANAGE_GUILD, **extra)
    await record.answered()
    return record.original


async def test_a_chain_nobody_answers_is_finished_by_the_bot_across_a_restart(fake_discord, bots, quick_settings):
    bot = await bots.start(quick_settings)
    opened = await play(fake_discord, "chain", "start", {"form": "wujue", "theme": "月"})
    assert "轮到李白" in opened
    late = await posted(fake_discord, CHANNEL_ID, lambda m: "李白超时" in m["content"], timeout=30)
    assert late["content"].startswith("联句君：")

    await restart(bots, bot, quick_settings)
    poem = await posted(fake_discord, CHANNEL_ID, lambda m: bool(m["embeds"]), timeout=60)
    assert len(poem["embeds"][0]["description"].split("\n")) == 4
    assert [line.split("　—— ")[1] for line in poem["content"].split("\n")] == ["联句君"] * 4
    assert "没有进行中的游戏" in await play(fake_discord, "chain", "status")
    assert fake_discord.violations == []


async def test_a_chain_on_the_servers_turn_length_is_finished_after_a_restart(fake_discord, bots, quick_settings):
    bot = await bots.start(quick_settings)
    refused = await (await fake_discord.command("settings", {}, subcommand="show")).answered()
    assert "管理服务器" in refused.original["content"]
    chosen = await settings_command(fake_discord, "turn", {"game": "chain", "seconds": 40})
    assert chosen["flags"] & EPHEMERAL and "联句 40 秒" in chosen["content"]

    assert "轮到李白" in await play(fake_discord, "chain", "start", {"form": "qijue", "theme": "月"})
    assert "杜甫加入了游戏" in await play(fake_discord, "chain", "join", who=DU_FU)
    assert "轮到杜甫" in await play(fake_discord, "chain", "line", {"line": "江枫渔火对愁眠"})
    left = int(re.search(r"还剩 (\d+) 秒", await play(fake_discord, "chain", "status")).group(1))
    assert SHORT_TURN_S < left <= 40  # the server's setting, not the bot's default

    await restart(bots, bot, quick_settings)
    assert "轮到联句君" in await play(fake_discord, "chain", "line", {"line": "姑苏城外寒山寺"}, who=DU_FU)
    poem = await posted(fake_discord, CHANNEL_ID, lambda m: bool(m["embeds"]), timeout=60)
    authors = [line.split("　—— ")[1] for line in poem["content"].split("\n")]
    assert authors == ["联句君", f"<@{LI_BAI[0]}>", f"<@{DU_FU[0]}>", "联句君"]
    assert "没有进行中的游戏" in await play(fake_discord, "chain", "status")
    assert fake_discord.violations == []


async def test_a_feihua_ends_at_a_deadline_after_a_restart_in_its_players_language(
    fake_discord, bots, quick_settings, built_corpus
):
    bot = await bots.start(quick_settings)
    # A strong bot always finds a line; a weaker one gives up by chance and would end the game before the restart.
    started = await play(fake_discord, "feihua", "start", {"key": "月", "strength": "strong"}, locale="en-US")
    assert "It is 李白's turn" in started
    recited = await play(fake_discord, "feihua", "line", {"line": corpus_line(built_corpus, "月")}, locale="en-US")
    assert "It is Lianju's turn" in recited
    await posted(fake_discord, CHANNEL_ID, lambda m: "It is 李白's turn" in m["content"], timeout=30)

    await restart(bots, bot, quick_settings)
    ended = await posted(fake_discord, CHANNEL_ID, lambda m: "ran out of time" in m["content"], timeout=30)
    assert "李白 is out" in ended["content"] and "Lianju wins" in ended["content"]
    assert "There is no game" in await play(fake_discord, "feihua", "status", locale="en-US")
    assert fake_discord.violations == []


def first_line_of(reply: str) -> str:
    found = re.search(r"(?:上联|上聯|First line)[：:] ?([\u4e00-\u9fff]+)", reply)
    assert found, reply
    return found.group(1)


async def test_a_duilian_with_an_answer_names_the_best_after_a_restart_in_the_servers_language(
    fake_discord, bots, quick_settings
):
    bot = await bots.start(quick_settings)
    chosen = await settings_command(fake_discord, "language", {"language": "zh-TW"}, locale="en-US")
    assert "Chinese (traditional)" in chosen["content"]
    first = first_line_of(await play(fake_discord, "duilian", "start", locale="en-US"))
    answer = "明月清风照我心"[-len(first) :]
    scored = await play(fake_discord, "duilian", "line", {"line": answer}, who=DU_FU, locale="en-US")
    assert "points" in scored

    await restart(bots, bot, quick_settings)
    best = await posted(fake_discord, CHANNEL_ID, lambda m: "時間到" in m["content"], timeout=30)
    assert f"最佳下聯：{to_traditional(answer)}（杜甫，" in best["content"]
    assert "There is no game" in await play(fake_discord, "duilian", "status", locale="en-US")
    assert fake_discord.violations == []


async def test_a_duilian_nobody_answers_ends_after_a_restart(fake_discord, bots, quick_settings):
    bot = await bots.start(quick_settings)
    first_line_of(await play(fake_discord, "duilian", "start"))
    await restart(bots, bot, quick_settings)
    ended = await posted(fake_discord, CHANNEL_ID, lambda m: "时间到" in m["content"], timeout=30)
    assert "无人应对" in ended["content"]
    assert "没有进行中的游戏" in await play(fake_discord, "duilian", "status")
    assert fake_discord.violations == []
