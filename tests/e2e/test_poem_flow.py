"""/poem through the real bot and the fake Discord: the embed, ratings, restarts, bad input."""

from __future__ import annotations

import asyncio
import io

from fake_discord import DEFERRED_MESSAGE, EPHEMERAL, LOADING, MESSAGE, UPDATE_MESSAGE
from PIL import Image
from sqlalchemy import select

from engine.prosody import check
from storage.db import Database
from storage.models import Poem, Rating


def poem_card(fake_discord, message: dict) -> Image.Image:
    """The card attached to a poem's message, shown as its embed's image."""
    assert message["embeds"][0]["image"]["url"] == "attachment://poem.png"
    card = Image.open(io.BytesIO(fake_discord.attachment(message, "poem.png")))
    assert card.format == "PNG" and 300 < card.width < 1600 and 300 < card.height < 1000, card.size
    return card


def rating_ids(message: dict) -> list[str]:
    return [item["custom_id"] for row in message["components"] for item in row["components"]]


async def stored(settings, model, *conditions):
    database = Database.connect(settings.database_url)
    try:
        async with database.unit_of_work() as session:
            return list(await session.scalars(select(model).where(*conditions)))
    finally:
        await database.close()


async def test_poem_embed_rating_and_restart(fake_discord, bots, bot_settings):
    bot = await bots.start(bot_settings)
    assert fake_discord.command_syncs == 1  # a fresh data folder: the tree was never synced

    record = await (await fake_discord.command("poem", {"theme": "月", "form": "qijue"})).answered()
    assert record.response_type == DEFERRED_MESSAGE and record.ack_latency < 3
    message = record.original
    assert not message["flags"] & LOADING
    embed = message["embeds"][0]
    assert embed["title"] == "《月》"
    lines = [line.rstrip("，。") for line in embed["description"].split("\n")]
    assert len(lines) == 4 and all(len(line) == 7 for line in lines)
    assert check("，".join(lines), "qijue").format_ok
    assert {field["name"]: field["value"] for field in embed["fields"]}["体裁"] == "七言绝句"
    assert "模型 v0" in embed["footer"]["text"] and "尚无评分" in embed["footer"]["text"]
    poem_id = int(embed["footer"]["text"].split("第 ")[1].split(" 首")[0])
    assert rating_ids(message) == [f"lianju:rate:{poem_id}:{stars}" for stars in range(1, 6)]
    [poem] = await stored(bot_settings, Poem, Poem.id == poem_id)
    assert poem.lines == lines and poem.message_id == int(message["id"])
    poem_card(fake_discord, message)  # the poem card: a PNG of sensible size, the embed's image

    click = await fake_discord.click(message, f"lianju:rate:{poem_id}:4")
    [thanks] = await click.followed_up()
    assert click.response_type == UPDATE_MESSAGE
    assert thanks["flags"] & EPHEMERAL and "4 ★" in thanks["content"]
    assert "1 人评分 · 平均 4.0 ★" in fake_discord.messages[int(message["id"])]["embeds"][0]["footer"]["text"]
    poem_card(fake_discord, fake_discord.messages[int(message["id"])])  # the rating keeps the card in the embed

    # Restart: a new bot process state, the same database; the old message's buttons still work.
    await bots.stop(bot)
    await bots.start(bot_settings)
    assert fake_discord.command_syncs == 1  # the command tree did not change: no second sync
    again = await fake_discord.click(fake_discord.messages[int(message["id"])], f"lianju:rate:{poem_id}:2")
    await again.followed_up()
    other = await fake_discord.click(message, f"lianju:rate:{poem_id}:5", user_id=1_300_000_000_000_000_009)
    await other.followed_up()
    ratings = await stored(bot_settings, Rating, Rating.poem_id == poem_id)
    assert sorted(rating.stars for rating in ratings) == [2, 5]  # 杜甫 re-rated 4 → 2: one row each
    assert "2 人评分 · 平均 3.5 ★" in fake_discord.messages[int(message["id"])]["embeds"][0]["footer"]["text"]
    assert fake_discord.violations == []


async def test_bad_input_gets_a_localised_reply(fake_discord, bots, bot_settings):
    await bots.start(bot_settings)
    cases = [
        ({"theme": "月" * 300}, "zh-CN", "主题最多"),
        ({"theme": "🌙"}, "en-US", "needs at least one Chinese character"),
        ({"theme": "月", "acrostic": ""}, "zh-TW", "藏頭不能為空"),
        ({"theme": "moon"}, "zh-CN", "至少一个汉字"),
        ({"theme": "月\x00\x07"}, "en-US", None),  # control characters are dropped: a poem on 月
        ({"theme": "月", "temperature": 9.0}, "en-US", "temperature must be between"),
    ]
    records = [await fake_discord.command("poem", options, locale=locale) for options, locale, _ in cases]
    for record, (options, _locale, expected) in zip(records, cases):
        await record.answered()
        original = record.original
        if expected is None:
            assert original["embeds"] and not record.ephemeral, options
        else:
            assert expected in original["content"] and not original["embeds"], (options, original["content"])
            # answered at once and only to the person who asked: no public "thinking…" first
            assert record.ephemeral and record.response_type == MESSAGE, options
    assert fake_discord.violations == []


async def test_twenty_simultaneous_poems(fake_discord, bots, bot_settings):
    await bots.start(bot_settings)
    records = await asyncio.gather(
        *(
            fake_discord.command("poem", {"theme": theme}, user_id=1_300_000_000_000_000_100 + n)
            for n, theme in enumerate("春夏秋冬月风花雪山水江河云雨烟霜柳梅竹松")
        )
    )
    await asyncio.gather(*(record.answered(timeout=120) for record in records))
    assert all(record.ack_latency < 3 for record in records)
    assert all(record.original["embeds"] for record in records)
    assert fake_discord.violations == []


async def test_poems_at_work_finish_before_the_bot_stops(fake_discord, bots, bot_settings):
    # Stopping right after the answers: each /poem is still recording which message shows it.
    bot = await bots.start(bot_settings)
    records = [await fake_discord.command("poem", {"theme": theme}) for theme in "春夏秋冬"]
    for record in records:
        await record.answered()
    await bots.stop(bot)
    assert bot.services.database.engine.pool.checkedout() == 0  # every unit of work handed its connection back
    poems = await stored(bot_settings, Poem)
    assert sorted(poem.message_id for poem in poems) == sorted(int(record.original["id"]) for record in records)


async def test_a_poem_from_a_first_line_with_its_card(fake_discord, bots, bot_settings):
    await bots.start(bot_settings)
    record = await (await fake_discord.command("poem", {"first_line": "白日依山尽", "form": "wulv"})).answered()
    message = record.original
    lines = [line.rstrip("，。") for line in message["embeds"][0]["description"].split("\n")]
    assert lines[0] == "白日依山尽" and len(lines) == 8
    report = check("，".join(lines), "wulv")
    assert report.format_ok and report.rhyme_ok and report.tone_ok_lenient
    # eight columns and the title's: wider than a quatrain's card
    assert poem_card(fake_discord, message).width > 900

    cases = [
        ({"first_line": "白日依山"}, "zh-CN", "起句须为一句五言或七言"),
        ({"first_line": "white sun"}, "en-US", "First line: Only Chinese characters"),
        ({"first_line": "平平平平平"}, "zh-TW", "第4字「平」應為仄聲"),  # s2twp: 為, not 爲
        ({"first_line": "朝辞白帝彩云间", "form": "wujue"}, "zh-CN", "每句 5 字"),
    ]
    for options, locale, expected in cases:
        refused = await (await fake_discord.command("poem", options, locale=locale)).answered()
        assert refused.ephemeral and expected in refused.original["content"], refused.original["content"]
    assert fake_discord.violations == []
