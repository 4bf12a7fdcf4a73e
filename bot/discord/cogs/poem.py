"""/poem: check the input (a bad one is answered privately), defer (Discord allows 3 s), compose in the
poet's worker, edit the poem in."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.app import POEM_LIMIT, LianjuBot
from bot.discord.i18n import command_text as _
from bot.discord.views import person_of, poem_message, rating_view
from bot.services import PoemRequest

FORM_CHOICES = [
    app_commands.Choice(name=_(f"form.{form}"), value=form) for form in ("auto", "wujue", "qijue", "wulv", "qilv")
]


class PoemCog(commands.Cog):
    def __init__(self, bot: LianjuBot) -> None:
        self.bot = bot

    @app_commands.command(name=_("cmd.poem"), description=_("cmd.poem.desc"))
    @POEM_LIMIT
    @app_commands.rename(
        theme=_("opt.theme"),
        form=_("opt.form"),
        acrostic=_("opt.acrostic"),
        temperature=_("opt.temperature"),
        first_line=_("opt.poem_opening"),
    )
    @app_commands.describe(
        theme=_("opt.theme.desc"),
        form=_("opt.form.desc"),
        acrostic=_("opt.acrostic.desc"),
        temperature=_("opt.temperature.desc"),
        first_line=_("opt.poem_opening.desc"),
    )
    @app_commands.choices(form=FORM_CHOICES)
    async def poem(
        self,
        interaction: discord.Interaction,
        theme: str = "",  # optional since a first line may say what the poem is about
        form: str | None = None,
        acrostic: str | None = None,
        temperature: app_commands.Range[float, 0.1, 1.5] | None = None,
        first_line: str | None = None,
    ) -> None:
        settings = await self.bot.services.guild_settings(interaction.guild_id)
        request = PoemRequest(
            theme=theme,
            form=form or settings.default_form,
            acrostic=acrostic,
            temperature=temperature,
            first_line=first_line,
        )
        self.bot.services.check_poem_request(request)  # bad input: a private answer, not a public "thinking…"
        await interaction.response.defer(thinking=True)
        card = await self.bot.services.write_poem(request, person_of(interaction))
        embed, files = await poem_message(card, with_card=settings.poem_card)
        message = await interaction.edit_original_response(
            embed=embed, attachments=files, view=rating_view(card.poem_id)
        )
        await self.bot.services.attach_message(card.poem_id, message.channel.id, message.id)


async def setup(bot: LianjuBot) -> None:
    await bot.add_cog(PoemCog(bot))
