"""/top, /mypoems and /script. The rating buttons themselves are bot.discord.views.RatingButton."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.discord.app import LianjuBot
from bot.discord.i18n import command_text as _
from bot.discord.views import person_of
from bot.games.texts import bot_name, mention
from bot.services import UserError, my_poems_entry, top_entry
from storage.models import Poem, Script

PERIOD_CHOICES = [app_commands.Choice(name=_(f"period.{period}"), value=period) for period in ("week", "month", "all")]
STYLE_CHOICES = [app_commands.Choice(name=_(f"style.{style.value}"), value=style.value) for style in Script]
TOP_LIMIT = 10
FIRST_LINE_CHARS = 7


def contributors(poem: Poem, locale: object) -> str:
    """Everyone who wrote a line of a 联句 (the bot by name, people as mentions), in line order."""
    if not poem.authors:
        return ""
    names = dict.fromkeys(
        bot_name(locale) if author.by_bot else mention(author.user_id, locale) for author in poem.authors
    )
    return "\n" + i18n.text("top.authors", locale, authors="、".join(names))


class RatingCog(commands.Cog):
    def __init__(self, bot: LianjuBot) -> None:
        self.bot = bot

    @app_commands.command(name=_("cmd.top"), description=_("cmd.top.desc"))
    @app_commands.guild_only()
    @app_commands.rename(period=_("opt.period"))
    @app_commands.describe(period=_("opt.period.desc"))
    @app_commands.choices(period=PERIOD_CHOICES)
    async def top(self, interaction: discord.Interaction, period: str = "week") -> None:
        locale = interaction.locale
        rated = await self.bot.services.top(interaction.guild_id, period, TOP_LIMIT)
        period_name = i18n.text(f"period.{period}", locale)
        if not rated:
            await interaction.response.send_message(i18n.text("top.empty", locale, period=period_name))
            return
        lines = [
            top_entry(rank, entry, locale) + contributors(entry.poem, locale) for rank, entry in enumerate(rated, 1)
        ]
        embed = discord.Embed(title=i18n.text("top.title", locale, period=period_name), description="\n".join(lines))
        await interaction.response.send_message(embed=embed)

    @app_commands.command(name=_("cmd.mypoems"), description=_("cmd.mypoems.desc"))
    async def mypoems(self, interaction: discord.Interaction) -> None:
        person = person_of(interaction)
        poems = await self.bot.services.my_poems(person)
        if not poems:
            await interaction.response.send_message(i18n.text("mypoems.empty", person.locale), ephemeral=True)
            return
        lines = [my_poems_entry(poem, person.locale, FIRST_LINE_CHARS) for poem in poems]
        embed = discord.Embed(title=i18n.text("mypoems.title", person.locale), description="\n".join(lines))
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name=_("cmd.script"), description=_("cmd.script.desc"))
    @app_commands.rename(style=_("opt.style"), server=_("opt.server"))
    @app_commands.describe(style=_("opt.style.desc"), server=_("opt.server.desc"))
    @app_commands.choices(style=STYLE_CHOICES)
    async def script(self, interaction: discord.Interaction, style: str, server: bool = False) -> None:
        person = person_of(interaction)
        if server:
            if interaction.guild_id is None:
                raise UserError("error.guild_only")
            if not interaction.permissions.manage_guild:
                raise UserError("error.permission")
        await self.bot.services.set_script(person, style, for_guild=server)
        key = "script.set_guild" if server else "script.set_user"
        style_name = i18n.text(f"style.{style}", person.locale)
        await interaction.response.send_message(i18n.text(key, person.locale, style=style_name), ephemeral=True)


async def setup(bot: LianjuBot) -> None:
    await bot.add_cog(RatingCog(bot))
