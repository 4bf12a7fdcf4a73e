"""/daily set and /daily off, and the post itself, which the scheduler fires per guild."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.discord.app import LianjuBot
from bot.discord.i18n import command_text as _
from bot.discord.views import guild_id_of, send_poem
from bot.occasions import occasion_for
from bot.services import DAILY_TAKEOVER_AT_START, Person, PoemRequest, daily_run_date

log = logging.getLogger(__name__)


class DailyCog(commands.GroupCog, group_name=_("cmd.daily"), group_description=_("cmd.daily.desc")):
    def __init__(self, bot: LianjuBot) -> None:
        self.bot = bot
        super().__init__()

    async def cog_load(self) -> None:
        self.bot.scheduler.post_daily_with(self.post)
        for claim in await self.bot.services.interrupted_daily_posts(datetime.now(UTC)):
            log.warning(
                "daily poem of guild %s for %s was claimed and never posted; posting it",
                claim.guild_id,
                claim.local_date,
            )
            self.bot.scheduler.take_over_daily(claim.guild_id, claim.claimed_at + DAILY_TAKEOVER_AT_START)

    @app_commands.command(name=_("cmd.daily.set"), description=_("cmd.daily.set.desc"))
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    @app_commands.rename(channel=_("opt.channel"), time=_("opt.time"), timezone=_("opt.timezone"))
    @app_commands.describe(channel=_("opt.channel.desc"), time=_("opt.time.desc"), timezone=_("opt.timezone.desc"))
    async def set(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        time: str | None = None,
        timezone: str | None = None,
    ) -> None:
        guild = await self.bot.services.set_daily(guild_id_of(interaction), channel.id, time, timezone)
        self.bot.scheduler.schedule(guild)
        await interaction.response.send_message(
            i18n.text(
                "daily.set",
                interaction.locale,
                time=guild.daily_time.strftime("%H:%M"),
                timezone=guild.timezone,
                channel_id=channel.id,
            )
        )

    @app_commands.command(name=_("cmd.daily.off"), description=_("cmd.daily.off.desc"))
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def off(self, interaction: discord.Interaction) -> None:
        guild_id = guild_id_of(interaction)
        await self.bot.services.daily_off(guild_id)
        self.bot.scheduler.unschedule(guild_id)
        await interaction.response.send_message(i18n.text("daily.off", interaction.locale))

    async def post(self, guild_id: int, taking_over: bool = False) -> None:
        """Write and post the guild's poem of the day, unless this local day's poem is already claimed
        (`taking_over`: a claim a killed process left is not)."""
        self.bot.handling()  # a stop waits for it, as for a command: cut short, it would lose the day
        services = self.bot.services
        guild = next((g for g in await services.daily_guilds() if g.id == guild_id), None)
        if guild is None:
            return
        local_date = daily_run_date(datetime.now(ZoneInfo(guild.timezone)), guild.daily_time)
        claim = await services.claim_daily(guild_id, local_date, taking_over)
        if claim is None:
            log.info("daily poem of guild %s for %s is already taken", guild_id, local_date)
            return
        occasion = occasion_for(local_date)
        me = self.bot.user
        assert me is not None  # the scheduler runs only while the bot is logged in
        author = Person(me.id, me.name, guild.locale or i18n.ZH_CN, guild_id, guild.daily_channel_id)
        card = await services.write_poem(
            PoemRequest(occasion.theme, form=guild.default_form), author, occasion=occasion
        )
        channel = self.bot.get_partial_messageable(guild.daily_channel_id, guild_id=guild_id)
        try:
            message = await send_poem(channel, card, with_card=guild.poem_card)
        except discord.HTTPException as error:
            await services.release_daily(claim.id)  # fixed and set a little later, the day still gets its poem
            if isinstance(error, discord.NotFound):  # the channel is gone for good
                await services.daily_off(guild_id)
                self.bot.scheduler.unschedule(guild_id)
                log.warning("daily poem of guild %s is off: its channel %s no longer exists", guild_id, channel.id)
            else:
                log.warning(
                    "daily poem of guild %s not posted in channel %s (%s): the bot needs View Channel, Send "
                    "Messages and Embed Links there",
                    guild_id,
                    channel.id,
                    error.text or error.status,
                )
            return
        await services.complete_daily(claim.id, card.poem_id, channel.id, message.id)


async def setup(bot: LianjuBot) -> None:
    await bot.add_cog(DailyCog(bot))
