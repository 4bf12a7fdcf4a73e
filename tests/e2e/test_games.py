"""The games through the real bot and the fake Discord: a 七绝 联句 by three people and the bot in
one channel while a 飞花令 runs in another, a wrong rhyme refused with its reason, the finished
poem posted with its authors and rating buttons, and a turn that times out."""

from __future__ import annotations

import asyncio
import re
import time

from fake_discord import CHANNEL_ID, EPHEMERAL

from engine.corpus import LineIndex

FEIHUA_CHANNEL = CHANNEL_ID + 1
LI_BAI, DU_FU, WANG_WEI = (
    (1_300_000_000_000_000_011, "李白"),
    (1_300_000_000_000_000_012, "杜甫"),
    (1_300_000_000_000_000_013, "王维"),
)


def corpus_line(built_corpus, key: str) -> str:
    index = LineIndex(built_corpus / "corpus.sqlite")
    return next(hit.text for hit in index.containing(key, 50) if len(hit.text) in (5, 7))


async def play(
    fake,
    group: str,
    subcommand: str,
    options: dict | None = None,
    *,
    who=LI_BAI,
    channel_id: int = CHANNEL_ID,
    locale: str = "zh-CN",
) -> str:
    record = await fake.command(
        group,
        options or {},
        subcommand=subcommand,
        user_id=who[0],
        name_of_user=who[1],
        channel_id=channel_id,
        locale=locale,
    )
    await record.answered(timeout=60)
    assert record.ack_latency < 3
    return record.original["content"]


async def posted(fake, channel_id: int, predicate, timeout: float = 60) -> dict:
    """The first message the bot posted in the channel (not as a reply) that satisfies `predicate`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in fake.channel_messages:
            if int(message["channel_id"]) == channel_id and predicate(message):
                return message
        await asyncio.sleep(0.05)
    raise AssertionError(f"no such message in channel {channel_id}: {[m['content'] for m in fake.channel_messages]}")


async def test_each_game_has_its_own_words_for_the_commands_every_game_shares(fake_discord, bots, bot_settings):
    await bots.start(bot_settings)

    def group(name: str) -> dict:
        return next(c for c in fake_discord.commands if c["name"] == name)

    def line_names(name: str) -> dict[str, str]:
        return next(o["name_localizations"] for o in group(name)["options"] if o["name"] == "line")

    def join_description(name: str) -> str:
        return next(o["description_localizations"]["zh-CN"] for o in group(name)["options"] if o["name"] == "join")

    assert line_names("feihua") == {"zh-CN": "接令", "zh-TW": "接令"}
    assert line_names("chain")["zh-CN"] == "写句" and line_names("duilian")["zh-CN"] == "对句"
    # /联句 is the game a Chinese speaker looks for under that name, not the owner's admin commands
    assert group("chain")["name_localizations"] == {"zh-CN": "联句", "zh-TW": "聯句"}
    assert group("lianju")["name_localizations"]["zh-CN"] != "联句"
    assert "轮流" in join_description("chain") and "直接对句" in join_description("duilian")


async def test_a_qijue_chain_and_a_feihua_at_once(fake_discord, bots, game_settings, built_corpus):
    await bots.start(game_settings)
    opened = await play(fake_discord, "chain", "start", {"form": "qijue", "theme": "月"})
    assert opened.startswith("联句君：") and "轮到李白" in opened
    assert "杜甫加入了游戏" in await play(fake_discord, "chain", "join", who=DU_FU)
    assert "王维" in await play(fake_discord, "chain", "join", who=WANG_WEI)

    # 飞花令 in the other channel: 李白 recites, the bot answers on its own, 李白 misremembers and is out.
    started = await play(
        fake_discord, "feihua", "start", {"key": "月", "strength": "strong"}, channel_id=FEIHUA_CHANNEL
    )
    assert "飞花令开始" in started and "轮到李白" in started

    line = await play(fake_discord, "chain", "line", {"line": "江枫渔火对愁眠"})
    assert "韵部定为下平声一先" in line and f"轮到<@{DU_FU[0]}>" not in line and "轮到杜甫" in line

    recited = await play(
        fake_discord, "feihua", "line", {"line": corpus_line(built_corpus, "月")}, channel_id=FEIHUA_CHANNEL
    )
    assert "出自" in recited and "轮到联句君" in recited
    bot_answer = await posted(fake_discord, FEIHUA_CHANNEL, lambda m: m["content"].startswith("联句君："))
    assert "出自" in bot_answer["content"] and "轮到李白" in bot_answer["content"]

    assert "轮到王维" in await play(fake_discord, "chain", "line", {"line": "姑苏城外寒山寺"}, who=DU_FU)
    wrong = await play(fake_discord, "chain", "line", {"line": "夜半钟声到客家"}, who=WANG_WEI)
    assert "韵脚「家」属下平声六麻，不押下平声一先。" in wrong and "还可再试 2 次" in wrong
    wrong_en = await play(fake_discord, "chain", "line", {"line": "夜半钟声到客家"}, who=WANG_WEI, locale="en-US")
    assert "rhymes in 下平声六麻, not in 下平声一先" in wrong_en

    out = await play(fake_discord, "feihua", "line", {"line": "明月明月照我心"}, channel_id=FEIHUA_CHANNEL)
    assert "李白出局" in out and "联句君胜出" in out

    done = await play(fake_discord, "chain", "line", {"line": "夜半钟声到客船"}, who=WANG_WEI)
    assert "诗成" in done
    poem = await posted(fake_discord, CHANNEL_ID, lambda m: bool(m["embeds"]))
    credits = poem["content"].split("\n")
    assert [line.split("　—— ")[1] for line in credits] == [
        "联句君",
        f"<@{LI_BAI[0]}>",
        f"<@{DU_FU[0]}>",
        f"<@{WANG_WEI[0]}>",
    ]
    assert [line.split("　—— ")[0] for line in credits][1:] == ["江枫渔火对愁眠", "姑苏城外寒山寺", "夜半钟声到客船"]
    assert poem["mentions"] == []  # the credits name the poets without pinging them
    embed = poem["embeds"][0]
    assert embed["title"].startswith("联句") and len(embed["description"].split("\n")) == 4
    assert embed["image"]["url"] == "attachment://poem.png"  # the poem card, drawn from the finished poem
    assert len(fake_discord.attachment(poem, "poem.png")) > 10_000
    poem_id = int(embed["footer"]["text"].split("第 ")[1].split(" 首")[0])
    buttons = [item["custom_id"] for row in poem["components"] for item in row["components"]]
    assert buttons == [f"lianju:rate:{poem_id}:{stars}" for stars in range(1, 6)]

    click = await fake_discord.click(poem, f"lianju:rate:{poem_id}:5")
    await click.followed_up()
    rated = fake_discord.messages[int(poem["id"])]
    assert rated["content"] == poem["content"]  # the rating updates the embed; the credits stay
    assert rated["embeds"][0]["title"] == embed["title"]  # and its 联句 title
    assert "1 人评分 · 平均 5.0 ★" in rated["embeds"][0]["footer"]["text"]
    assert "没有进行中的游戏" in await play(fake_discord, "chain", "status")
    top = await (await fake_discord.command("top", {"period": "all"})).answered()
    assert f"联句：联句君、<@{LI_BAI[0]}>、<@{DU_FU[0]}>、<@{WANG_WEI[0]}>" in top.original["embeds"][0]["description"]
    assert fake_discord.violations == []


async def test_a_turn_times_out_after_a_reminder(fake_discord, bots, game_settings):
    await bots.start(game_settings)
    started = await play(fake_discord, "feihua", "start", {"key": "花", "turn_seconds": 5})
    assert "轮到李白" in started
    reminded = await posted(fake_discord, CHANNEL_ID, lambda m: m["content"].startswith("⏳"), timeout=10)
    assert f"<@{LI_BAI[0]}>" in reminded["content"] and "还剩" in reminded["content"]
    timed_out = await posted(fake_discord, CHANNEL_ID, lambda m: "超时" in m["content"], timeout=10)
    assert "李白出局" in timed_out["content"] and "联句君胜出" in timed_out["content"]
    assert fake_discord.violations == []


async def test_a_chain_finished_where_the_bot_may_not_post_still_answers_its_player(
    fake_discord, bots, game_settings, caplog
):
    await bots.start(game_settings)
    await play(fake_discord, "chain", "start", {"form": "qijue", "opening": "月落乌啼霜满天", "bot_plays": False})
    for line in ("江枫渔火对愁眠", "姑苏城外寒山寺"):
        await play(fake_discord, "chain", "line", {"line": line})
    fake_discord.refuse_posts(CHANNEL_ID, "forbidden")  # the finished poem cannot be posted in the channel
    finished = await play(fake_discord, "chain", "line", {"line": "夜半钟声到客船"})
    assert "诗成" in finished and "出了点问题" not in finished
    for _ in range(100):  # the poem is posted after the player's answer
        if "cannot post in channel" in caplog.text:
            break
        await asyncio.sleep(0.1)
    assert "cannot post in channel" in caplog.text and not [r for r in caplog.records if r.exc_info]
    assert fake_discord.violations == []


async def test_unloading_one_game_cog_leaves_the_shared_clock_running(fake_discord, bots, game_settings):
    bot = await bots.start(game_settings)
    started = await play(fake_discord, "feihua", "start", {"key": "花", "turn_seconds": 5})
    assert "轮到李白" in started
    await bot.unload_extension("bot.discord.cogs.chain")
    await bot.unload_extension("bot.discord.cogs.duilian")
    timed_out = await posted(fake_discord, CHANNEL_ID, lambda m: "超时" in m["content"], timeout=10)
    assert "李白出局" in timed_out["content"]
    assert fake_discord.violations == []


async def test_a_moderator_who_does_not_play_stops_a_game(fake_discord, bots, game_settings):
    await bots.start(game_settings)
    assert "轮到李白" in await play(fake_discord, "feihua", "start", {"key": "花", "bot_plays": False})
    record = await fake_discord.command(
        "feihua",
        {},
        subcommand="stop",
        user_id=WANG_WEI[0],
        name_of_user=WANG_WEI[1],
        permissions=str(1 << 13),  # Manage Messages
    )
    await record.answered(timeout=60)
    assert "游戏已结束" in record.original["content"]
    assert "没有进行中的游戏" in await play(fake_discord, "feihua", "status")
    assert fake_discord.violations == []


async def test_forgetme_on_ones_own_turn_passes_it_and_pings_nobody_gone(fake_discord, bots, game_settings):
    await bots.start(game_settings)
    opening = {"form": "qijue", "opening": "江枫渔火对愁眠", "bot_plays": False, "turn_seconds": 8}
    await play(fake_discord, "chain", "start", opening)
    await play(fake_discord, "chain", "join", who=DU_FU)
    assert "轮到杜甫" in await play(fake_discord, "chain", "line", {"line": "月落乌啼霜满天"})  # the second line
    asked = await (await fake_discord.command("forgetme", user_id=DU_FU[0], name_of_user=DU_FU[1])).answered()
    confirmed = await fake_discord.click(
        asked.original, f"lianju:forget:{DU_FU[0]}", user_id=DU_FU[0], name_of_user=DU_FU[1]
    )
    await confirmed.answered()
    # 杜甫's turn ran out at once, by the game's rule for a late turn: 李白 plays on, now, with a full turn.
    moved_on = await posted(fake_discord, CHANNEL_ID, lambda m: "超时" in m["content"], timeout=10)
    assert "轮到李白" in moved_on["content"]
    left = re.search(r"还剩 (\d+) 秒", await play(fake_discord, "chain", "status"))
    assert left and int(left[1]) <= 8  # a turn of his own, not what was left of 杜甫's on top of it
    assert "夜半钟声到客船" in await play(fake_discord, "chain", "line", {"line": "夜半钟声到客船"})
    await asyncio.sleep(5)  # past the half-time reminder 杜甫's turn had scheduled
    assert not [m for m in fake_discord.channel_messages if str(DU_FU[0]) in m["content"]]
    assert fake_discord.violations == []


async def test_a_chain_on_a_theme_that_is_not_one_is_refused_as_poem_refuses_it(fake_discord, bots, bot_settings):
    await bots.start(bot_settings)
    for theme in ("moon", "🌙"):
        chain = await (
            await fake_discord.command("chain", {"form": "qijue", "theme": theme}, subcommand="start")
        ).answered()
        poem = await (await fake_discord.command("poem", {"theme": theme})).answered()
        assert chain.original["content"] == poem.original["content"] and "汉字" in chain.original["content"]
        assert chain.original["flags"] & EPHEMERAL  # privately, before anything is said to the channel
    assert "没有进行中的游戏" in await play(fake_discord, "chain", "status")
    assert fake_discord.violations == []
