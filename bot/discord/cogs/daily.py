"""/daily set and /daily off, and the post itself, which the scheduler fires per guild."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.discord.app import LianjuBot
from bot.discord.i18n import command_text as _
from bot.discord.views import guild_id_of, send_poem
from bot.occasions import occasion_for
from bot.services import DAILY_TAKEOVER_AT_START, Person, PoemRequest, UserError, daily_run_date

log = logging.getLogger(__name__)

DAILY_RETRY_AFTER = timedelta(minutes=1)  # a daily poem the poet could not write (busy) is tried again


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
            at = claim.claimed_at + DAILY_TAKEOVER_AT_START
            self.bot.scheduler.post_daily_later(claim.guild_id, claim.local_date, at)

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

    async def post(self, guild_id: int, day: date | None = None) -> None:
        """Write and post the guild's poem of the day, unless that day's poem is already claimed.

        `day` is a day tried again (a claim a killed process left, a poem that could not be written),
        not the day the scheduler's run belongs to: it is taken over from a claim a minute old, not
        half an hour, and given up once too late (`Services.daily_deadline`)."""
        self.bot.handling()  # a stop waits for it, as for a command: cut short, it would lose the day
        services = self.bot.services
        guild = next((g for g in await services.daily_guilds() if g.id == guild_id), None)
        if guild is None:
            return
        local_date = day or daily_run_date(datetime.now(ZoneInfo(guild.timezone)), guild.daily_time)
        if day is not None and datetime.now(UTC) > services.daily_deadline(guild, day):
            log.warning(
                "daily poem of guild %s for %s given up: too late (LIANJU_DAILY_MISFIRE_GRACE_S)", guild_id, day
            )
            return
        claim = await services.claim_daily(guild_id, local_date, taking_over=day is not None)
        if claim is None:
            log.info("daily poem of guild %s for %s is already taken", guild_id, local_date)
            return
        occasion = occasion_for(local_date)
        me = self.bot.user
        assert me is not None  # the scheduler runs only while the bot is logged in
        author = Person(me.id, me.name, guild.locale or i18n.ZH_CN, guild_id, guild.daily_channel_id)
        try:
            card = await services.write_poem(
                PoemRequest(occasion.theme, form=guild.default_form), author, occasion=occasion
            )
        except Exception as error:  # the poet busy (a UserError), or worse: the day is tried again
            await services.release_daily(claim.id)
            retry = datetime.now(UTC) + DAILY_RETRY_AFTER
            why = error.message(i18n.EN) if isinstance(error, UserError) else repr(error)
            log.warning(
                "daily poem of guild %s not written (%s); trying again at %s",
                guild_id,
                why,
                f"{retry:%H:%M:%S} UTC",
                exc_info=not isinstance(error, UserError),
            )
            self.bot.scheduler.post_daily_later(guild_id, local_date, retry)
            return
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
