"""/duilian start|ask, and the join, line, status and stop every game has: 对对联.

`start`: the bot gives a 上联 and everyone in the channel answers (`line`) until the time is up
(the clock then names the best answer); `ask`: the bot answers a player's 上联 at once, nothing stored.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.discord.app import GAME_START_LIMIT, LianjuBot
from bot.discord.i18n import command_text as _
from bot.discord.posts import GameCog
from bot.discord.views import channel_of
from bot.games.common import Outcome
from bot.games.duilian import DuilianGame, DuilianStart
from bot.services import Person
from storage.models import utcnow


class DuilianCog(GameCog, group_name=_("cmd.duilian"), group_description=_("cmd.duilian.desc")):
    game = DuilianGame

    @app_commands.command(name=_("cmd.duilian.start"), description=_("cmd.duilian.start.desc"))
    @GAME_START_LIMIT
    @app_commands.rename(turn_seconds=_("opt.turn_seconds"))
    @app_commands.describe(turn_seconds=_("opt.turn_seconds.desc"))
    async def start(
        self, interaction: discord.Interaction, turn_seconds: app_commands.Range[int, 5, 3600] | None = None
    ) -> None:
        async def start(person: Person) -> Outcome:
            request = DuilianStart(await self.turn_seconds(person, turn_seconds))
            return await self.bot.games.start(channel_of(person), person.guild_id, person.as_user, request, utcnow())

        await self.bot.posts.act(interaction, start, thinking=True, show_line=False)

    @app_commands.command(name=_("cmd.duilian.ask"), description=_("cmd.duilian.ask.desc"))
    @app_commands.rename(first_line=_("opt.first_line"))
    @app_commands.describe(first_line=_("opt.first_line.desc"))
    async def ask(self, interaction: discord.Interaction, first_line: str) -> None:
        await self.bot.posts.act(
            interaction, lambda person: self.bot.games.ask(DuilianGame.kind, first_line), thinking=True, show_line=False
        )


async def setup(bot: LianjuBot) -> None:
    await bot.add_cog(DuilianCog(bot))
