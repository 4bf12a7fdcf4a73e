"""/settings through the real bot and the fake Discord: only for those who manage the server, and
what it sets is what /poem uses."""

from __future__ import annotations

from fake_discord import EPHEMERAL

MANAGE_GUILD = str(1 << 5)


async def settings(fake, subcommand: str, options: dict | None = None, **extra) -> str:
    record = await fake.command("settings", options or {}, subcommand=subcommand, permissions=MANAGE_GUILD, **extra)
    await record.answered()
    assert record.original["flags"] & EPHEMERAL
    return record.original["content"]


async def test_settings_are_for_managers_and_poem_takes_the_servers_form(fake_discord, bots, bot_settings):
    await bots.start(bot_settings)
    [command] = [command for command in fake_discord.commands if command["name"] == "settings"]
    assert str(command["default_member_permissions"]) == MANAGE_GUILD
    assert command["name_localizations"]["zh-TW"] == "設定"

    shown = await settings(fake_discord, "show")
    assert "联句 120 秒、飞花令 60 秒、对对联 120 秒" in shown and "自动" in shown and "诗卡：开" in shown
    assert "五律" in await settings(fake_discord, "form", {"form": "wulv"})
    assert "poem card: off" in await settings(fake_discord, "card", {"on": False}, locale="en-US")

    record = await (await fake_discord.command("poem", {"theme": "月"})).answered()
    embed = record.original["embeds"][0]
    assert {field["name"]: field["value"] for field in embed["fields"]}["体裁"] == "五言律诗"
    assert len(embed["description"].split("\n")) == 8
    assert fake_discord.violations == []
