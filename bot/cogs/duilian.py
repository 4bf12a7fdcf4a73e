"""/duilian [上联] and /duilian_answer <下联>: 对对联 through the shared game table.

Without a 上联 the bot gives one and everyone in the channel answers until the time is up (the
clock then names the best answer); with one the bot answers it at once, nothing stored.
"""

from __future__ import annotations

from typing import Optional

import discord
from discord import app_commands
from discord.ext import commands

from bot.game_posts import TableCog
from bot.i18n import command_text as _
from bot.playing import utcnow
from bot.views import person_of


class DuilianCog(TableCog, commands.Cog):
    def __init__(self, bot) -> None:
        self.bot = bot

    @app_commands.command(name=_("cmd.duilian"), description=_("cmd.duilian.desc"))
    @app_commands.rename(first_line=_("opt.first_line"), turn_seconds=_("opt.turn_seconds"))
    @app_commands.describe(first_line=_("opt.first_line.desc"), turn_seconds=_("opt.turn_seconds.desc"))
    async def duilian(self, interaction: discord.Interaction, first_line: Optional[str] = None,
                      turn_seconds: app_commands.Range[int, 5, 3600] = 120) -> None:
        await interaction.response.defer(thinking=True)  # the poet writes
        person = person_of(interaction)
        self.table.seen(person)
        if first_line is None:
            outcome = await self.table.service.start_duilian(person.channel_id, person.guild_id, person.as_user,
                                                             utcnow(), turn_seconds)
        else:
            outcome = await self.table.service.answer_couplet(first_line)
        await self.table.reply(interaction, person, outcome, show_line=False)

    @app_commands.command(name=_("cmd.duilian_answer"), description=_("cmd.duilian_answer.desc"))
    @app_commands.rename(second_line=_("opt.second_line"))
    @app_commands.describe(second_line=_("opt.second_line.desc"))
    async def answer(self, interaction: discord.Interaction, second_line: str) -> None:
        await self.table.act(interaction, lambda person: self.table.service.submit(
            person.channel_id, person.as_user, second_line, utcnow()), show_line=False)


async def setup(bot) -> None:
    await bot.add_cog(DuilianCog(bot))
