"""The daily poem fires once per guild and day, across restarts; admin commands and their refusals."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fake_discord import ALL_PERMISSIONS, CHANNEL_ID, EPHEMERAL, GUILD_ID, OWNER_ID
from sqlalchemy import select

from bot.services import UserError
from storage.db import Database
from storage.models import DailyPost

MANAGE_GUILD = str(1 << 5)


async def fire_now(bot) -> None:
    job = bot.scheduler.scheduler.get_job(f"daily:{GUILD_ID}")
    job.modify(next_run_time=datetime.now(UTC))


async def wait_for(predicate, timeout: float = 60.0) -> None:
    async def poll():
        while not predicate():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), timeout)


async def daily_posts(settings) -> list[DailyPost]:
    database = Database.connect(settings.database_url)
    async with database.unit_of_work() as session:
        found = list(await session.scalars(select(DailyPost)))
    await database.close()
    return found


async def until_posted(settings) -> None:
    """The claim is completed just after the message is sent: a test that ends before that would
    close the bot's database under the daily job."""
    for _ in range(100):
        if any(post.posted_at is not None for post in await daily_posts(settings)):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the daily post was never completed")


async def test_a_daily_poem_discord_refuses_is_logged_and_the_day_stays_open(fake_discord, bots, bot_settings, caplog):
    bot = await bots.start(bot_settings)
    options = {"channel": CHANNEL_ID, "time": "0:00", "timezone": "Asia/Taipei"}

    async def set_daily() -> None:
        await (await fake_discord.command("daily", options, subcommand="set", permissions=MANAGE_GUILD)).answered()

    async def fire(refused: str | None, logged: str) -> None:
        fake_discord.refuse_posts(CHANNEL_ID, refused)
        caplog.clear()
        await fire_now(bot)
        await wait_for(lambda: logged in caplog.text)
        assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [caplog.records[-1].getMessage()]
        assert not [r for r in caplog.records if r.exc_info]

    await set_daily()
    await fire("gone", "no longer exists")  # the channel was deleted: the daily poem turns itself off
    assert bot.scheduler.scheduler.get_job(f"daily:{GUILD_ID}") is None
    await set_daily()
    # nothing posted, nothing claimed: once allowed, the day still gets its poem; no word of a card
    await fire("forbidden", "Send Messages")
    assert bot.scheduler.scheduler.get_job(f"daily:{GUILD_ID}") is not None
    await fire("no_files", "without its card")  # allowed to post but not to attach: the poem goes out without it
    await wait_for(lambda: len(fake_discord.channel_messages) == 1)
    [post] = fake_discord.channel_messages
    assert post["embeds"][0]["title"].startswith("每日一诗") and not post.get("attachments")
    await until_posted(bot_settings)


async def test_a_bot_stopped_while_it_writes_the_daily_poem_posts_it_first(fake_discord, bots, bot_settings):
    bot = await bots.start(bot_settings)
    options = {"channel": CHANNEL_ID, "time": "0:00", "timezone": "Asia/Taipei"}
    await (await fake_discord.command("daily", options, subcommand="set", permissions=MANAGE_GUILD)).answered()
    await fire_now(bot)
    claimed: list[DailyPost] = []

    async def claimed_yet() -> None:
        while not claimed:
            claimed.extend(await daily_posts(bot_settings))
            await asyncio.sleep(0.02)

    await asyncio.wait_for(claimed_yet(), 60)
    assert claimed[0].posted_at is None  # being written
    async with asyncio.timeout(30):
        await bots.stop(bot)
    [post] = await daily_posts(bot_settings)
    assert post.posted_at is not None and len(fake_discord.channel_messages) == 1


async def test_daily_poem_fires_once_across_restarts(fake_discord, bots, bot_settings):
    bot = await bots.start(bot_settings)
    options = {"channel": CHANNEL_ID, "time": "7:30", "timezone": "Asia/Taipei"}

    refused = await (await fake_discord.command("daily", options, subcommand="set")).answered()
    assert refused.original["flags"] & EPHEMERAL and "管理服务器" in refused.original["content"]
    assert bot.scheduler.scheduler.get_job(f"daily:{GUILD_ID}") is None

    # Asia is a folder of zones (ZoneInfo raises another error for it); localtime and posixrules are the host's
    for unknown in ("Mars/Olympus", "Asia", "localtime", "posixrules"):
        bad = await (
            await fake_discord.command(
                "daily", {**options, "timezone": unknown}, subcommand="set", permissions=MANAGE_GUILD, locale="en-US"
            )
        ).answered()
        assert "Unknown time zone" in bad.original["content"]

    done = await (await fake_discord.command("daily", options, subcommand="set", permissions=MANAGE_GUILD)).answered()
    assert "07:30" in done.original["content"] and "Asia/Taipei" in done.original["content"]
    job = bot.scheduler.scheduler.get_job(f"daily:{GUILD_ID}")
    assert (job.next_run_time.hour, job.next_run_time.minute, str(job.next_run_time.tzinfo)) == (7, 30, "Asia/Taipei")
    again = {"channel": CHANNEL_ID}  # what is left out stays as it was set
    kept = await (await fake_discord.command("daily", again, subcommand="set", permissions=MANAGE_GUILD)).answered()
    assert "07:30" in kept.original["content"] and "Asia/Taipei" in kept.original["content"]

    await fire_now(bot)
    await wait_for(lambda: len(fake_discord.channel_messages) == 1)
    [post] = fake_discord.channel_messages
    assert post["channel_id"] == str(CHANNEL_ID) and post["embeds"][0]["title"].startswith("每日一诗")
    assert len(post["components"][0]["components"]) == 5  # the rating buttons
    assert post["embeds"][0]["image"]["url"] == "attachment://poem.png"
    assert fake_discord.attachment(post, "poem.png").startswith(b"\x89PNG")  # the poem card
    rating = post["components"][0]["components"][3]["custom_id"]
    await (await fake_discord.click(post, rating)).followed_up()
    rated = fake_discord.messages[int(post["id"])]["embeds"][0]
    assert rated["title"] == post["embeds"][0]["title"] and "1 人评分" in rated["footer"]["text"]  # the title stays

    await until_posted(bot_settings)

    # After a restart the job is still in the job store; firing again the same day posts nothing.
    await bots.stop(bot)
    bot = await bots.start(bot_settings)
    await fire_now(bot)
    await asyncio.sleep(2)
    assert len(fake_discord.channel_messages) == 1
    [claim] = await daily_posts(bot_settings)
    assert claim.message_id == int(post["id"]) and claim.posted_at is not None

    off = await (await fake_discord.command("daily", {}, subcommand="off", permissions=ALL_PERMISSIONS)).answered()
    assert "已关闭" in off.original["content"]
    assert bot.scheduler.scheduler.get_job(f"daily:{GUILD_ID}") is None
    assert fake_discord.violations == []


async def test_model_info_and_owner_sync(fake_discord, bots, bot_settings):
    await bots.start(bot_settings)
    info = await (await fake_discord.command("model", {}, subcommand="info", locale="en-US")).answered()
    assert "Active model: v0" in info.original["content"] and info.original["flags"] & EPHEMERAL

    syncs = fake_discord.command_syncs
    refused = await (await fake_discord.command("lianju", {}, subcommand="sync", locale="zh-TW")).answered()
    assert "只有機器人的主人" in refused.original["content"]
    assert fake_discord.command_syncs == syncs

    synced = await (await fake_discord.command("lianju", {}, subcommand="sync", user_id=OWNER_ID)).answered()
    assert fake_discord.command_syncs == syncs + 1
    assert f"已同步 {len(fake_discord.commands)} 条命令" in synced.original["content"]
    assert fake_discord.violations == []


async def test_a_daily_poem_a_killed_bot_claimed_and_never_posted_is_posted_at_the_next_start(
    fake_discord, bots, bot_settings
):
    """A kill -9 between claiming the day and posting it: the scheduler counted that run as done, so
    the next start takes the claim over itself (a stop waits for the post; a kill cannot), while the
    day may still be posted (LIANJU_DAILY_MISFIRE_GRACE_S after its time)."""
    bot_settings = bot_settings.model_copy(update={"daily_misfire_grace_s": 2 * 86400})
    bot = await bots.start(bot_settings)
    options = {"channel": CHANNEL_ID, "time": "0:00", "timezone": "Asia/Taipei"}
    await (await fake_discord.command("daily", options, subcommand="set", permissions=MANAGE_GUILD)).answered()
    await bots.stop(bot)
    today = datetime.now(ZoneInfo("Asia/Taipei")).date()
    database = Database.connect(bot_settings.database_url)
    async with database.unit_of_work() as session:  # what the killed process left
        session.add(DailyPost(guild_id=GUILD_ID, local_date=today, claimed_at=datetime.now(UTC) - timedelta(minutes=2)))
        session.add(DailyPost(guild_id=GUILD_ID, local_date=today - timedelta(days=3), claimed_at=datetime.now(UTC)))
    await database.close()

    bot = await bots.start(bot_settings)
    await wait_for(lambda: len(fake_discord.channel_messages) == 1)
    assert fake_discord.channel_messages[0]["embeds"][0]["title"].startswith("每日一诗")
    await until_posted(bot_settings)
    posts = {post.local_date: post for post in await daily_posts(bot_settings)}
    assert posts[today].posted_at is not None and posts[today].message_id == int(fake_discord.channel_messages[0]["id"])
    assert posts[today - timedelta(days=3)].posted_at is None  # too late to post: left alone
    await bots.stop(bot)

    # a claim made a moment ago may be a process still writing it: taken over a minute after it was made
    database = Database.connect(bot_settings.database_url)
    async with database.unit_of_work() as session:
        claim = await session.get(DailyPost, posts[today].id)
        claim.posted_at, claim.claimed_at = None, datetime.now(UTC) - timedelta(seconds=5)
    await database.close()
    bot = await bots.start(bot_settings)
    job = bot.scheduler.scheduler.get_job(f"daily-again:{GUILD_ID}")
    assert abs((job.next_run_time - (claim.claimed_at + timedelta(minutes=1))).total_seconds()) < 1
    job.remove()
    assert len(fake_discord.channel_messages) == 1


async def test_a_daily_poem_the_poet_could_not_write_is_tried_again(fake_discord, bots, bot_settings, caplog):
    bot_settings = bot_settings.model_copy(update={"daily_misfire_grace_s": 2 * 86400})  # 0:00 is hours ago
    bot = await bots.start(bot_settings)
    options = {"channel": CHANNEL_ID, "time": "0:00", "timezone": "Asia/Taipei"}
    await (await fake_discord.command("daily", options, subcommand="set", permissions=MANAGE_GUILD)).answered()
    write_poem = bot.services.write_poem

    async def busy_once(*args, **kwargs):
        bot.services.write_poem = write_poem
        raise UserError("error.busy")

    bot.services.write_poem = busy_once
    await fire_now(bot)
    await wait_for(lambda: "trying again" in caplog.text)
    assert "busy" in caplog.text and not [r for r in caplog.records if r.exc_info]
    assert await daily_posts(bot_settings) == []  # the claim was given back
    job = bot.scheduler.scheduler.get_job(f"daily-again:{GUILD_ID}")
    assert 50 < (job.next_run_time - datetime.now(UTC)).total_seconds() <= 60
    job.modify(next_run_time=datetime.now(UTC))
    await wait_for(lambda: len(fake_discord.channel_messages) == 1)
    await until_posted(bot_settings)
