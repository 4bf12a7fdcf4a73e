"""/model info for everyone; /model rollback, /model finetune and /lianju sync for the bot's
owners; the scheduled fine-tune and the model check that keeps the poet on the
registry's active model."""

from __future__ import annotations

import logging
from pathlib import Path

import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.discord.app import LianjuBot
from bot.discord.i18n import command_text as _
from bot.discord.views import channel_of, person_of
from bot.learning import FinetuneResult
from bot.services import UserError

log = logging.getLogger(__name__)

REASON_CHARS = 1500  # an outcome stays below Discord's 2000 characters


async def is_owner(interaction: discord.Interaction[LianjuBot]) -> bool:
    return await interaction.client.is_owner(interaction.user)


def outcome_text(result: FinetuneResult, locale: object, active: str) -> str:
    candidate = Path(result.candidate).name if result.candidate else ""
    if result.outcome == "promoted":
        return i18n.text("finetune.promoted", locale, name=candidate)
    if result.outcome == "rejected":
        return i18n.text(
            "finetune.rejected", locale, name=candidate, gates=", ".join(result.failed_gates), active=active
        )
    return i18n.text(f"finetune.{result.outcome}", locale, why=result.message[:REASON_CHARS])


# Hidden from members: Discord shows these groups only to administrators (a server can grant them
# to others); the owner-only commands in them check for the owner as well.
ADMINISTRATORS = discord.Permissions(administrator=True)


class AdminCog(commands.Cog):
    model = app_commands.Group(name=_("cmd.model"), description=_("cmd.model.desc"), default_permissions=ADMINISTRATORS)
    lianju = app_commands.Group(
        name=_("cmd.lianju"), description=_("cmd.lianju.desc"), default_permissions=ADMINISTRATORS
    )

    def __init__(self, bot: LianjuBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        settings, scheduler = self.bot.settings, self.bot.scheduler
        scheduler.check_model_every(settings.model_check_seconds, self.bot.services.follow_registry)
        scheduler.schedule_finetune(settings.finetune_cron, self.scheduled_finetune)

    @model.command(name=_("cmd.model.info"), description=_("cmd.model.info.desc"))
    async def info(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)  # a swap may load a model first
        report = await self.bot.services.follow_registry()
        await interaction.edit_original_response(content=report.describe(interaction.locale))

    # Owners only: every server shares the one active model, so one server's admin must not
    # change it for all the others.
    @model.command(name=_("cmd.model.rollback"), description=_("cmd.model.rollback.desc"))
    @app_commands.check(is_owner)
    async def rollback(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await self.bot.services.roll_back_model()
        locale = interaction.locale
        await interaction.edit_original_response(
            content=i18n.text("model.rolled_back", locale) + "\n" + report.describe(locale)
        )

    @model.command(name=_("cmd.model.finetune"), description=_("cmd.model.finetune.desc"))
    @app_commands.check(is_owner)
    async def finetune(self, interaction: discord.Interaction) -> None:
        locale = interaction.locale
        run = self.bot.services.start_finetune()  # UserError while a run is under way
        await interaction.response.send_message(i18n.text("finetune.started", locale))
        outcome = outcome_text(await run, locale, self.bot.services.model.name)
        try:
            await interaction.edit_original_response(content=outcome)
        except discord.HTTPException:  # the interaction's token lasts 15 minutes; a real run outlives it
            person = person_of(interaction)
            await self.bot.get_partial_messageable(channel_of(person), guild_id=person.guild_id).send(outcome)

    async def scheduled_finetune(self) -> None:
        try:
            run = self.bot.services.start_finetune()
        except UserError:
            log.info("the scheduled fine-tune did not start: another run is under way")
            return
        result = await run
        log.info("scheduled fine-tune %s: %s", result.outcome, result.message)

    @lianju.command(name=_("cmd.lianju.sync"), description=_("cmd.lianju.sync.desc"))
    @app_commands.check(is_owner)
    async def sync(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        count = await self.bot.sync_commands()
        await interaction.edit_original_response(content=i18n.text("sync.done", interaction.locale, count=count))


async def setup(bot: LianjuBot) -> None:
    await bot.add_cog(AdminCog(bot))
