"""/chain start|pass, and the join, line, status and stop every game has: 联句."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.discord.app import GAME_START_LIMIT, LianjuBot
from bot.discord.i18n import command_text as _
from bot.discord.posts import GameCog
from bot.discord.views import channel_of, person_of
from bot.games.chain import BAD_OPEN_LINES, ChainGame, ChainRules, ChainStart, chain_form, open_form
from bot.games.common import refusal
from bot.services import PoemRequest
from storage.models import utcnow

FORM_CHOICES = [
    app_commands.Choice(name=_(f"form.{form}"), value=form)
    for form in ("wujue", "qijue", "wulv", "qilv", "open5", "open7")
]
STRICTNESS_CHOICES = [
    app_commands.Choice(name=_("strictness.lenient"), value="lenient"),
    app_commands.Choice(name=_("strictness.strict"), value="strict"),
]


class ChainCog(GameCog, group_name=_("cmd.chain"), group_description=_("cmd.chain.desc")):
    game = ChainGame

    @app_commands.command(name=_("cmd.chain.start"), description=_("cmd.chain.start.desc"))
    @GAME_START_LIMIT
    @app_commands.rename(
        form=_("opt.form"),
        lines=_("opt.lines"),
        strictness=_("opt.strictness"),
        turn_seconds=_("opt.turn_seconds"),
        bot_plays=_("opt.bot_plays"),
        opening=_("opt.opening"),
        theme=_("opt.theme"),
    )
    @app_commands.describe(
        form=_("opt.chain_form.desc"),
        lines=_("opt.lines.desc"),
        strictness=_("opt.strictness.desc"),
        turn_seconds=_("opt.turn_seconds.desc"),
        bot_plays=_("opt.bot_plays.desc"),
        opening=_("opt.opening.desc"),
        theme=_("opt.chain_theme.desc"),
    )
    @app_commands.choices(form=FORM_CHOICES, strictness=STRICTNESS_CHOICES)
    async def start(
        self,
        interaction: discord.Interaction,
        form: str = "qijue",
        lines: app_commands.Range[int, 4, 32] = 8,
        strictness: str = "lenient",
        turn_seconds: app_commands.Range[int, 5, 3600] | None = None,
        bot_plays: bool = True,
        opening: str | None = None,
        theme: str | None = None,
    ) -> None:
        if theme is not None:  # the bot writes its opening on it: refused privately, as /poem refuses it
            self.bot.services.check_poem_request(PoemRequest(theme=theme))
        await interaction.response.defer(thinking=True)  # the bot may write the opening line
        person = person_of(interaction)
        await self.bot.posts.seen(person)
        try:
            shape = open_form(int(form[-1]), lines) if form.startswith("open") else chain_form(form)
        except ValueError:
            await self.bot.posts.reply(interaction, person, refusal(BAD_OPEN_LINES))
            return
        seconds = await self.turn_seconds(person, turn_seconds)
        request = ChainStart(ChainRules(shape, strictness == "strict", bot_plays, seconds), opening, theme)
        outcome = await self.bot.games.start(channel_of(person), person.guild_id, person.as_user, request, utcnow())
        await self.bot.posts.reply(interaction, person, outcome)

    @app_commands.command(name=_("cmd.chain.pass"), description=_("cmd.chain.pass.desc"))
    async def pass_turn(self, interaction: discord.Interaction) -> None:
        await self.play(
            interaction,
            lambda person: self.bot.games.pass_turn(channel_of(person), self.game.kind, person.as_user, utcnow()),
        )


async def setup(bot: LianjuBot) -> None:
    await bot.add_cog(ChainCog(bot))
