"""/chain start|join|line|pass|status|stop: 联句, every move through the shared game table."""

from __future__ import annotations

from typing import Optional

import discord
from discord import app_commands
from discord.ext import commands

from bot.game_posts import TableCog
from bot.games.chain import OPEN_LINES, ChainRules, chain_form, open_form
from bot.games.common import refusal, say
from bot.i18n import command_text as _
from bot.playing import status_text, utcnow
from bot.views import person_of

FORM_CHOICES = [app_commands.Choice(name=_(f"form.{form}"), value=form)
                for form in ("wujue", "qijue", "wulv", "qilv", "open5", "open7")]
STRICTNESS_CHOICES = [app_commands.Choice(name=_("strictness.lenient"), value="lenient"),
                      app_commands.Choice(name=_("strictness.strict"), value="strict")]
BAD_OPEN_LINES = say("open_lines", f"开放联句的句数须为 {OPEN_LINES.start} 到 {OPEN_LINES.stop - 1} 之间的偶数。",
                     f"An open chain has an even number of lines from {OPEN_LINES.start} to {OPEN_LINES.stop - 1}.")


class ChainCog(TableCog, commands.GroupCog, group_name=_("cmd.chain"), group_description=_("cmd.chain.desc")):
    def __init__(self, bot) -> None:
        self.bot = bot
        super().__init__()

    @app_commands.command(name=_("cmd.chain.start"), description=_("cmd.chain.start.desc"))
    @app_commands.rename(form=_("opt.form"), lines=_("opt.lines"), strictness=_("opt.strictness"),
                         turn_seconds=_("opt.turn_seconds"), bot_plays=_("opt.bot_plays"), opening=_("opt.opening"),
                         theme=_("opt.theme"))
    @app_commands.describe(form=_("opt.chain_form.desc"), lines=_("opt.lines.desc"),
                           strictness=_("opt.strictness.desc"), turn_seconds=_("opt.turn_seconds.desc"),
                           bot_plays=_("opt.bot_plays.desc"), opening=_("opt.opening.desc"),
                           theme=_("opt.chain_theme.desc"))
    @app_commands.choices(form=FORM_CHOICES, strictness=STRICTNESS_CHOICES)
    async def start(self, interaction: discord.Interaction, form: str = "qijue", lines: app_commands.Range[int, 4, 32] = 8,
                    strictness: str = "lenient", turn_seconds: app_commands.Range[int, 5, 3600] = 120,
                    bot_plays: bool = True, opening: Optional[str] = None, theme: Optional[str] = None) -> None:
        await interaction.response.defer(thinking=True)  # the bot may write the opening line
        person = person_of(interaction)
        self.table.seen(person)
        try:
            shape = open_form(int(form[-1]), lines) if form.startswith("open") else chain_form(form)
        except ValueError:
            await self.table.reply(interaction, person, refusal(BAD_OPEN_LINES))
            return
        rules = ChainRules(shape, strictness == "strict", bot_plays, turn_seconds)
        outcome = await self.table.service.start_chain(person.channel_id, person.guild_id, person.as_user, rules,
                                                       utcnow(), opening=opening, theme=theme)
        await self.table.reply(interaction, person, outcome)

    @app_commands.command(name=_("cmd.chain.join"), description=_("cmd.chain.join.desc"))
    async def join(self, interaction: discord.Interaction) -> None:
        await self.table.act(interaction, lambda person: self.table.service.join(person.channel_id, person.as_user))

    @app_commands.command(name=_("cmd.chain.line"), description=_("cmd.chain.line.desc"))
    @app_commands.rename(line=_("opt.line"))
    @app_commands.describe(line=_("opt.line.desc"))
    async def line(self, interaction: discord.Interaction, line: str) -> None:
        await self.table.act(interaction, lambda person: self.table.service.submit(
            person.channel_id, person.as_user, line, utcnow()))

    @app_commands.command(name=_("cmd.chain.pass"), description=_("cmd.chain.pass.desc"))
    async def pass_turn(self, interaction: discord.Interaction) -> None:
        await self.table.act(interaction, lambda person: self.table.service.pass_turn(
            person.channel_id, person.as_user, utcnow()))

    @app_commands.command(name=_("cmd.chain.status"), description=_("cmd.chain.status.desc"))
    async def status(self, interaction: discord.Interaction) -> None:
        person = person_of(interaction)
        game = await self.table.service.status(person.channel_id)
        await interaction.response.send_message(
            status_text(game, person.locale, self.table.name_in(person.locale), utcnow()), ephemeral=True)

    @app_commands.command(name=_("cmd.chain.stop"), description=_("cmd.chain.stop.desc"))
    async def stop(self, interaction: discord.Interaction) -> None:
        moderator = bool(interaction.permissions.manage_messages)
        await self.table.act(interaction, lambda person: self.table.service.stop(
            person.channel_id, person.as_user, moderator))


async def setup(bot) -> None:
    await bot.add_cog(ChainCog(bot))
