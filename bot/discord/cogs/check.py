"""/check: the checker's report of a poem as an embed in the reader's language (bot.checking)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.checking import summarise
from bot.discord.app import LianjuBot
from bot.discord.i18n import command_text as _
from bot.discord.views import EMBED_COLOUR
from engine.prosody import check

FIELD_MAX = 1024  # Discord's limit on an embed field's value


class CheckCog(commands.Cog):
    def __init__(self, bot: LianjuBot) -> None:
        self.bot = bot

    @app_commands.command(name=_("cmd.check"), description=_("cmd.check.desc"))
    @app_commands.rename(poem=_("opt.poem"))
    @app_commands.describe(poem=_("opt.poem.desc"))
    async def check(self, interaction: discord.Interaction, poem: str) -> None:
        locale = interaction.locale
        summary = summarise(check(poem), locale)
        title = f"{i18n.text('check.title', locale)} {'✓' if summary.ok else '✗'}"
        description = "\n".join([*summary.rows, "", summary.verdict]) if summary.rows else summary.verdict
        embed = discord.Embed(title=title, description=description, colour=EMBED_COLOUR)
        for name, value in summary.facts:
            embed.add_field(name=name, value=value)
        reasons = "\n".join(summary.reasons) or i18n.text("check.no_reasons", locale)
        embed.add_field(name=i18n.text("check.reasons", locale), value=reasons[:FIELD_MAX], inline=False)
        embed.set_footer(text=" ".join([i18n.text("check.legend", locale), *summary.notes]) if summary.rows else "")
        await interaction.response.send_message(embed=embed)


async def setup(bot: LianjuBot) -> None:
    await bot.add_cog(CheckCog(bot))
