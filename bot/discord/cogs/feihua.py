"""/feihua start, and the join, line, status and stop every game has: 飞花令."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.discord.app import GAME_START_LIMIT, LianjuBot
from bot.discord.i18n import command_text as _
from bot.discord.posts import GameCog
from bot.discord.views import channel_of
from bot.games.common import Outcome
from bot.games.feihua import STRENGTHS, FeihuaGame, FeihuaStart
from bot.services import Person
from storage.models import utcnow

STRENGTH_CHOICES = [app_commands.Choice(name=_(f"strength.{strength}"), value=strength) for strength in STRENGTHS]


class FeihuaCog(GameCog, group_name=_("cmd.feihua"), group_description=_("cmd.feihua.desc")):
    game = FeihuaGame

    @app_commands.command(name=_("cmd.feihua.start"), description=_("cmd.feihua.start.desc"))
    @GAME_START_LIMIT
    @app_commands.rename(
        key=_("opt.key"), bot_plays=_("opt.bot_plays"), strength=_("opt.strength"), turn_seconds=_("opt.turn_seconds")
    )
    @app_commands.describe(
        key=_("opt.key.desc"),
        bot_plays=_("opt.feihua_bot_plays.desc"),
        strength=_("opt.strength.desc"),
        turn_seconds=_("opt.turn_seconds.desc"),
    )
    @app_commands.choices(strength=STRENGTH_CHOICES)
    async def start(
        self,
        interaction: discord.Interaction,
        key: str,
        bot_plays: bool = True,
        strength: str = "medium",
        turn_seconds: app_commands.Range[int, 5, 3600] | None = None,
    ) -> None:
        async def start(person: Person) -> Outcome:
            request = FeihuaStart(key, bot_plays, strength, await self.turn_seconds(person, turn_seconds))
            return await self.bot.games.start(channel_of(person), person.guild_id, person.as_user, request, utcnow())

        await self.play(interaction, start)


async def setup(bot: LianjuBot) -> None:
    await bot.add_cog(FeihuaCog(bot))
