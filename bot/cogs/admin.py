"""/model info for everyone, /lianju sync for the bot's owners."""

from __future__ import annotations

import json

import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.i18n import command_text as _

METRICS_CHARS = 1500  # the reply stays far below Discord's 2000 characters


async def is_owner(interaction: discord.Interaction) -> bool:
    return await interaction.client.is_owner(interaction.user)


class AdminCog(commands.Cog):
    model = app_commands.Group(name=_("cmd.model"), description=_("cmd.model.desc"))
    lianju = app_commands.Group(name=_("cmd.lianju"), description=_("cmd.lianju.desc"))

    def __init__(self, bot) -> None:
        self.bot = bot

    @model.command(name=_("cmd.model.info"), description=_("cmd.model.info.desc"))
    async def info(self, interaction: discord.Interaction) -> None:
        locale = interaction.locale
        model = await self.bot.services.active_model()
        metrics = json.dumps(model.metrics, ensure_ascii=False)[:METRICS_CHARS] if model.metrics else i18n.text(
            "model.no_metrics", locale)
        since = (model.promoted_at or model.created_at).strftime("%Y-%m-%d")
        await interaction.response.send_message(
            i18n.text("model.info", locale, name=model.name, since=since, path=model.path, metrics=metrics),
            ephemeral=True,
        )

    @lianju.command(name=_("cmd.lianju.sync"), description=_("cmd.lianju.sync.desc"))
    @app_commands.check(is_owner)
    async def sync(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        count = await self.bot.sync_commands()
        await interaction.edit_original_response(content=i18n.text("sync.done", interaction.locale, count=count))


async def setup(bot) -> None:
    await bot.add_cog(AdminCog(bot))
