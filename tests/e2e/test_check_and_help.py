"""/check and /help through the real bot and the fake Discord, in the reader's language."""

from __future__ import annotations

from fake_discord import EPHEMERAL

JINGYESI = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
CHUNWANG = "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。"
MANAGE_GUILD = str(1 << 5)


def fields(embed: dict) -> dict[str, str]:
    return {field["name"]: field["value"] for field in embed["fields"]}


async def test_check_shows_the_grid_the_rhyme_and_the_reasons(fake_discord, bots, bot_settings):
    await bots.start(bot_settings)
    record = await (await fake_discord.command("check", {"poem": JINGYESI})).answered()
    embed = record.original["embeds"][0]
    assert embed["title"] == "格律检查 ✗"
    rows = embed["description"].split("\n")
    # the line, its tones and the pattern's; what breaks the pattern in bold (not 一三五, which are free)
    assert rows[1] == "`2` 疑是地**上**霜｜平仄仄**仄**平｜仄仄仄平平"
    assert rows[2] == "`3` 举**头**望明月｜仄**平**中平仄｜仄仄平平仄"
    assert "押韵 ✓" in embed["description"] and "平仄 ✗" in embed["description"]
    facts = fields(embed)
    assert facts["体裁"] == "五言绝句" and facts["韵部"] == "下平声七阳" and facts["格式"] == "平起首句入韵"
    assert "第3句失粘" in facts["问题"] and "古绝" in facts["问题"]

    english = await (await fake_discord.command("check", {"poem": JINGYESI}, locale="en-US")).answered()
    facts = fields(english.original["embeds"][0])
    assert facts["Form"] == "five-character quatrain" and "breaks 粘" in facts["Reasons"]
    assert facts["Pattern"] == "level start, first line rhymes"

    traditional = await (await fake_discord.command("check", {"poem": CHUNWANG}, locale="zh-TW")).answered()
    embed = traditional.original["embeds"][0]
    assert embed["title"] == "格律檢查 ✓" and "`1` 國破山河在" in embed["description"]
    assert fields(embed)["問題"] == "合律，沒有問題。"

    broken = await (await fake_discord.command("check", {"poem": "床前明月光，疑是地上霜"}, locale="en-US")).answered()
    embed = broken.original["embeds"][0]
    assert "shape ✗" in embed["description"] and "not the shape of a 五绝" in fields(embed)["Reasons"]
    assert fake_discord.violations == []


async def test_help_lists_the_commands_in_the_readers_language(fake_discord, bots, bot_settings):
    await bots.start(bot_settings)
    record = await (await fake_discord.command("help")).answered()
    assert record.original["flags"] & EPHEMERAL
    embed = record.original["embeds"][0]
    assert embed["title"] == "联句的命令"
    listed = embed["description"]
    assert "**/作诗** — 以一个主题作一首合格律的近体诗" in listed
    assert "**/格律** — " in listed and "**/飞花令 接令** — " in listed
    assert "/每日一诗 设置" not in listed  # a member without Manage Server is not shown the moderators' commands

    english = await (await fake_discord.command("help", locale="en-US", permissions=MANAGE_GUILD)).answered()
    listed = english.original["embeds"][0]["description"]
    assert "**/poem** — Write a classical Chinese poem" in listed and "**/help** — " in listed
    assert "**/daily set** — " in listed  # Manage Server sees them
    assert fake_discord.violations == []
