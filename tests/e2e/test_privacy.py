"""/forgetme through the real bot: it asks first, only the person can confirm, and the button still
works after a restart."""

from __future__ import annotations

from sqlalchemy import select

from storage.db import Database
from storage.models import Rating, User

SU_SHI = (1_300_000_000_000_000_031, "苏轼")


async def test_forgetme_asks_first_then_deletes_even_after_a_restart(fake_discord, bots, bot_settings):
    bot = await bots.start(bot_settings)
    poem = await (await fake_discord.command("poem", {"theme": "月"})).answered()
    poem_message = fake_discord.messages[int(poem.original["id"])]
    rated = await fake_discord.click(
        poem_message,
        next(item["custom_id"] for row in poem_message["components"] for item in row["components"]),
        user_id=SU_SHI[0],
        name_of_user=SU_SHI[1],
    )
    await rated.followed_up()

    asked = await (await fake_discord.command("forgetme", user_id=SU_SHI[0], name_of_user=SU_SHI[1])).answered()
    assert "无法撤销" in asked.original["content"]
    button = f"lianju:forget:{SU_SHI[0]}"
    someone_else = await fake_discord.click(asked.original, button)
    await someone_else.answered()
    assert "只能由请求者本人" in someone_else.original["content"]

    await bots.stop(bot)
    await bots.start(bot_settings)
    confirmed = await fake_discord.click(asked.original, button, user_id=SU_SHI[0], name_of_user=SU_SHI[1])
    await confirmed.answered()
    assert "已删除你的数据：1 条评分" in confirmed.original["content"]
    database = Database.connect(bot_settings.database_url)
    async with database.unit_of_work() as session:
        assert await session.get(User, SU_SHI[0]) is None
        assert (await session.scalars(select(Rating).where(Rating.user_id == SU_SHI[0]))).all() == []
    await database.close()
    assert fake_discord.violations == []
