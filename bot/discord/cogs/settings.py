"""/settings show|turn|form|language|card: a server's settings, for those who may manage it."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.discord.app import LianjuBot
from bot.discord.cogs.poem import FORM_CHOICES
from bot.discord.i18n import command_text as _
from bot.discord.views import guild_id_of
from bot.services import FOLLOW_PLAYERS, TURN_SECONDS_RANGE, GuildSettings
from storage.models import GameKind

GAME_CHOICES = [app_commands.Choice(name=_(f"game.{kind.value}"), value=kind.value) for kind in GameKind]
LANGUAGE_CHOICES = [
    app_commands.Choice(name=_(f"language.{locale}"), value=locale) for locale in (*i18n.LOCALES, FOLLOW_PLAYERS)
]
Seconds = app_commands.Range[int, TURN_SECONDS_RANGE[0], TURN_SECONDS_RANGE[1]]


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)  # hidden from members until a server says otherwise
class SettingsCog(commands.GroupCog, group_name=_("cmd.settings"), group_description=_("cmd.settings.desc")):
    def __init__(self, bot: LianjuBot) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        # A server can show the commands to anyone (Integrations); only managers may still use them.
        if not interaction.permissions.manage_guild:
            raise app_commands.MissingPermissions(["manage_guild"])
        return True

    async def _answer(self, interaction: discord.Interaction, settings: GuildSettings) -> None:
        await interaction.response.send_message(settings.describe(interaction.locale), ephemeral=True)

    @app_commands.command(name=_("cmd.settings.show"), description=_("cmd.settings.show.desc"))
    async def show(self, interaction: discord.Interaction) -> None:
        await self._answer(interaction, await self.bot.services.guild_settings(guild_id_of(interaction)))

    @app_commands.command(name=_("cmd.settings.turn"), description=_("cmd.settings.turn.desc"))
    @app_commands.rename(game=_("opt.game"), seconds=_("opt.seconds"))
    @app_commands.describe(game=_("opt.game.desc"), seconds=_("opt.seconds.desc"))
    @app_commands.choices(game=GAME_CHOICES)
    async def turn(self, interaction: discord.Interaction, game: str, seconds: Seconds) -> None:
        settings = await self.bot.services.set_turn_seconds(guild_id_of(interaction), GameKind(game), seconds)
        await self._answer(interaction, settings)

    @app_commands.command(name=_("cmd.settings.form"), description=_("cmd.settings.form.desc"))
    @app_commands.rename(form=_("opt.form"))
    @app_commands.describe(form=_("opt.form.desc"))
    @app_commands.choices(form=FORM_CHOICES)
    async def form(self, interaction: discord.Interaction, form: str) -> None:
        await self._answer(interaction, await self.bot.services.set_default_form(guild_id_of(interaction), form))

    @app_commands.command(name=_("cmd.settings.language"), description=_("cmd.settings.language.desc"))
    @app_commands.rename(language=_("opt.language"))
    @app_commands.describe(language=_("opt.language.desc"))
    @app_commands.choices(language=LANGUAGE_CHOICES)
    async def language(self, interaction: discord.Interaction, language: str) -> None:
        chosen = None if language == FOLLOW_PLAYERS else language
        await self._answer(interaction, await self.bot.services.set_post_locale(guild_id_of(interaction), chosen))

    @app_commands.command(name=_("cmd.settings.card"), description=_("cmd.settings.card.desc"))
    @app_commands.rename(on=_("opt.on"))
    @app_commands.describe(on=_("opt.on.desc"))
    async def card(self, interaction: discord.Interaction, on: bool) -> None:
        await self._answer(interaction, await self.bot.services.set_poem_card(guild_id_of(interaction), on))


async def setup(bot: LianjuBot) -> None:
    await bot.add_cog(SettingsCog(bot))
