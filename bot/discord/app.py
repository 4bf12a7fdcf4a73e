"""The Discord bot: discord.py wired to the services, the scheduler and a clean shutdown.

`create_bot(settings)` builds it; `run_bot(settings)` logs in, runs until SIGTERM/SIGINT and
closes the bot, the game clock, the scheduler, the poet and the database in that order. The
objects every cog shares are typed attributes of `LianjuBot`, made in `setup_hook` before any cog
loads (discord.py's examples/views/persistent.py), so no cog depends on another's loading first. Slash commands are
synced to Discord only when the command tree's hash differs from the last sync (or with
`/lianju sync`), because Discord rate-limits global syncs hard.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import pkgutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot import i18n
from bot.config import Settings
from bot.discord import cogs
from bot.discord.i18n import LianjuTranslator
from bot.discord.posts import GamePosts
from bot.discord.views import RatingButton
from bot.games.clock import GameClock
from bot.games.service import GameService, game_service
from bot.scheduler import DailyScheduler, jobstore_url
from bot.services import Services, UserError

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 10.0
# Every module of bot.discord.cogs is an extension; they share nothing but the bot's attributes.
T = TypeVar("T")
COGS = tuple(f"{cogs.__name__}.{module.name}" for module in pkgutil.iter_modules(cogs.__path__))


class TokenProblem(RuntimeError):
    """The token is missing or Discord refused it; the message says what to do."""


class DiscordUnreachable(RuntimeError):
    """No connection to Discord (no network, DNS, a firewall); the message says so."""


def per_user_per_minute(limit: Callable[[Settings], int]) -> Callable[[T], T]:
    """A command's per-user limit, `limit(the bot's settings)` uses a minute (0: none); one over it
    is answered with error.cooldown (LianjuTree.on_error)."""

    def cooldown(interaction: discord.Interaction[LianjuBot]) -> app_commands.Cooldown | None:
        uses = limit(interaction.client.settings)
        return app_commands.Cooldown(uses, 60.0) if uses else None

    # discord.py keeps the buckets with the command class, for the process: the bot is part of the key,
    # so a bot started again in the same process (the tests do) starts with its own counts.
    return app_commands.checks.dynamic_cooldown(
        cooldown, key=lambda interaction: (id(interaction.client), interaction.user.id)
    )


class LianjuTree(app_commands.CommandTree["LianjuBot"]):
    async def interaction_check(self, interaction: discord.Interaction[LianjuBot], /) -> bool:
        interaction.client.handling()
        return True

    async def on_error(
        self, interaction: discord.Interaction[LianjuBot], error: app_commands.AppCommandError, /
    ) -> None:
        """Every failure of a command ends in a message the person can read, never in silence."""
        locale = interaction.locale
        original = getattr(error, "original", error)
        if isinstance(original, UserError):
            message = original.message(locale)
        elif isinstance(error, app_commands.MissingPermissions):
            message = i18n.text("error.permission", locale)
        elif isinstance(error, app_commands.NoPrivateMessage):
            message = i18n.text("error.guild_only", locale)
        elif isinstance(error, app_commands.CommandOnCooldown):
            message = i18n.text("error.cooldown", locale, seconds=f"{error.retry_after:.0f}")
        elif isinstance(error, app_commands.CheckFailure):
            message = i18n.text("error.owner", locale)
        else:
            log.error("command %s failed", interaction.command and interaction.command.qualified_name, exc_info=error)
            message = i18n.text("error.internal", locale)
        if interaction.response.is_done():
            await interaction.edit_original_response(content=message, embed=None, view=None)
        else:
            await interaction.response.send_message(message, ephemeral=True)


class LianjuBot(commands.AutoShardedBot):
    # What the cogs share, made in setup_hook (the services need the event loop).
    services: Services
    scheduler: DailyScheduler  # the daily posts, the scheduled fine-tune, the model check
    games: GameService
    clock: GameClock  # every game's timers; closed with the bot, never with one game's cog
    posts: GamePosts  # how the games speak in a channel

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents(guilds=True),  # nothing privileged: slash commands and buttons only
            tree_cls=LianjuTree,
            shard_count=settings.shard_count,
            owner_ids=set(settings.owner_ids) or None,
            help_command=None,
            # Nobody is pinged unless a message says whom (a game pings the player whose turn it is).
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.settings = settings
        self.translator = LianjuTranslator()  # the commands' Chinese names, for Discord and for the sync hash
        self.handlers: set[asyncio.Task[object]] = set()  # commands and buttons at work; close() lets them finish
        self.closing = contextlib.AsyncExitStack()  # what setup_hook made, closed in reverse order

    def handling(self) -> None:
        """Note the running task as a command, button or daily post at work, so that close() waits for it."""
        task = asyncio.current_task()
        if task is not None:
            self.handlers.add(task)
            task.add_done_callback(self.handlers.discard)

    async def setup_hook(self) -> None:
        settings = self.settings
        self.services = await Services.start(settings)
        self.closing.push_async_callback(self.services.close)
        self.scheduler = DailyScheduler(
            jobstore_url(settings.database_url, settings.data_dir), settings.daily_misfire_grace_s
        )
        self.scheduler.start(await self.services.daily_guilds())  # paused until every cog registered its jobs
        self.closing.callback(self.scheduler.shutdown)
        self.games = game_service(self.services)
        self.posts = GamePosts(self, self.services)
        self.clock = GameClock(self.games, self.posts.post_outcome, self.posts.post_reminder)
        self.closing.push_async_callback(self.clock.close)
        log.info("resumed %d running games", await self.clock.resume())
        await self.tree.set_translator(self.translator)
        self.add_dynamic_items(RatingButton)
        for cog in COGS:
            await self.load_extension(cog)
        self.scheduler.resume()
        if settings.sync_commands == "always" or (
            settings.sync_commands == "changed" and await self.command_tree_hash() != self._synced_hash()
        ):
            await self.sync_commands()

    # --- command sync ----------------------------------------------------------------------------

    async def command_tree_hash(self) -> str:
        payload = [
            await command.get_translated_payload(self.tree, self.translator) for command in self.tree.get_commands()
        ]
        return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    @property
    def _hash_file(self) -> Path:
        return self.settings.data_dir / f"commands-{self.application_id}.sha256"

    def _synced_hash(self) -> str | None:
        return self._hash_file.read_text().strip() if self._hash_file.is_file() else None

    async def sync_commands(self) -> int:
        synced = await self.tree.sync()
        self._hash_file.parent.mkdir(parents=True, exist_ok=True)
        self._hash_file.write_text(await self.command_tree_hash())
        log.info("synced %d application commands", len(synced))
        return len(synced)

    # --- shutdown --------------------------------------------------------------------------------

    async def close(self) -> None:
        # Commands and buttons at work finish first (a /poem still recording which message shows it),
        # for SHUTDOWN_GRACE_S at most; cancelled inside a unit of work, they would leave its connection
        # checked out. Then commands.Bot.close unloads the cogs, and what setup_hook made is closed.
        at_work = [task for task in self.handlers if task is not asyncio.current_task()]
        if at_work:
            await asyncio.wait(at_work, timeout=SHUTDOWN_GRACE_S)
        await super().close()
        await self.closing.aclose()


def create_bot(settings: Settings) -> LianjuBot:
    return LianjuBot(settings)


async def run_bot(settings: Settings, *, handle_signals: bool = True) -> None:
    """Log in and serve until SIGTERM/SIGINT (or the connection ends); always closes cleanly."""
    token = settings.discord_token.get_secret_value().strip()
    if not token:
        raise TokenProblem(
            "LIANJU_DISCORD_TOKEN is not set: create a bot in the Discord Developer Portal "
            "(Applications → your app → Bot → Reset Token) and put the token in the environment or .env"
        )
    bot = create_bot(settings)
    stop = asyncio.Event()
    if handle_signals:
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, stop.set)
    serving = asyncio.create_task(bot.start(token))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if serving.done():
            serving.result()  # raises what ended it
    except discord.LoginFailure:
        raise TokenProblem("Discord rejected LIANJU_DISCORD_TOKEN: reset the token in the Developer Portal") from None
    except (aiohttp.ClientError, OSError) as error:  # aiohttp's connection errors are OSErrors too
        raise DiscordUnreachable(
            f"cannot reach Discord ({type(error).__name__}: {error}): check the network connection and try again"
        ) from None
    finally:
        stopping.cancel()
        await bot.close()
        if not serving.done():
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)


# The commands that cost the poet's time, limited per person (LIANJU_POEMS_PER_MINUTE, LIANJU_GAME_STARTS_PER_MINUTE).
POEM_LIMIT = per_user_per_minute(lambda settings: settings.poems_per_minute)
GAME_START_LIMIT = per_user_per_minute(lambda settings: settings.game_starts_per_minute)
