"""/feihua start|join|line|stop: 飞花令 through the shared game table (/chain status shows it too)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.game_posts import TableCog
from bot.games.feihua import STRENGTHS
from bot.i18n import command_text as _
from bot.playing import utcnow

STRENGTH_CHOICES = [app_commands.Choice(name=_(f"strength.{strength}"), value=strength) for strength in STRENGTHS]


class FeihuaCog(TableCog, commands.GroupCog, group_name=_("cmd.feihua"), group_description=_("cmd.feihua.desc")):
    def __init__(self, bot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name=_("cmd.feihua.start"), description=_("cmd.feihua.start.desc"))
    @app_commands.rename(key=_("opt.key"), bot_plays=_("opt.bot_plays"), strength=_("opt.strength"),
                         turn_seconds=_("opt.turn_seconds"))
    @app_commands.describe(key=_("opt.key.desc"), bot_plays=_("opt.bot_plays.desc"), strength=_("opt.strength.desc"),
                           turn_seconds=_("opt.turn_seconds.desc"))
    @app_commands.choices(strength=STRENGTH_CHOICES)
    async def start(self, interaction: discord.Interaction, key: str, bot_plays: bool = True, strength: str = "medium",
                    turn_seconds: app_commands.Range[int, 5, 3600] = 60) -> None:
        await self.table.act(interaction, lambda person: self.table.service.start_feihua(
            person.channel_id, person.guild_id, person.as_user, key, utcnow(), bot_plays, strength, turn_seconds))

    @app_commands.command(name=_("cmd.feihua.join"), description=_("cmd.feihua.join.desc"))
    async def join(self, interaction: discord.Interaction) -> None:
        await self.table.act(interaction, lambda person: self.table.service.join(person.channel_id, person.as_user))

    @app_commands.command(name=_("cmd.feihua.line"), description=_("cmd.feihua.line.desc"))
    @app_commands.rename(line=_("opt.line"))
    @app_commands.describe(line=_("opt.line.desc"))
    async def line(self, interaction: discord.Interaction, line: str) -> None:
        # deferred by act: a near miss searches the corpus for a while
        await self.table.act(interaction, lambda person: self.table.service.submit(
            person.channel_id, person.as_user, line, utcnow()))

    @app_commands.command(name=_("cmd.feihua.stop"), description=_("cmd.feihua.stop.desc"))
    async def stop(self, interaction: discord.Interaction) -> None:
        moderator = bool(interaction.permissions.manage_messages)
        await self.table.act(interaction, lambda person: self.table.service.stop(
            person.channel_id, person.as_user, moderator))


async def setup(bot) -> None:
    await bot.add_cog(FeihuaCog(bot))
