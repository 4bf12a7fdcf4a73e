"""Start the fake Discord and the real bot (bot.discord.app.create_bot, started as a task) against it."""

from __future__ import annotations

import asyncio
import contextlib

import discord
import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route
from fake_discord import TOKEN, FakeDiscord

from bot.config import Settings
from bot.discord.app import create_bot

READY_TIMEOUT_S = 30


@pytest.fixture
async def fake_discord(monkeypatch):
    fake = FakeDiscord()
    await fake.start()
    # The two places discord.py keeps Discord's address; the library itself is not modified.
    monkeypatch.setattr(Route, "BASE", fake.api_base)
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", discord.gateway.yarl.URL(fake.gateway_url))
    yield fake
    await fake.stop()


@pytest.fixture
def bot_settings(tmp_path) -> Settings:
    # No per-user limits: a test asks as one person faster than anyone would (test_safety tests them). Four
    # candidates a poem, not sixteen: these tests drive the bot's flows with the real model, and the engine's
    # own tests judge the poems sixteen candidates make.
    return Settings(
        data_dir=tmp_path / "data",
        discord_token=TOKEN,
        poems_per_minute=0,
        game_starts_per_minute=0,
        poem_candidates=4,
    )


@pytest.fixture
def game_settings(bot_settings, built_corpus):
    """The bot's data folder with the fixture corpus built in it (飞花令 needs the line index)."""
    bot_settings.corpus_dir.parent.mkdir(parents=True, exist_ok=True)
    bot_settings.corpus_dir.symlink_to(built_corpus, target_is_directory=True)
    return bot_settings


class RunningBots:
    """Starts bots as tasks and stops them all at the end, so a failed test leaves nothing running."""

    def __init__(self) -> None:
        self.running: list[tuple[discord.Client, asyncio.Task]] = []

    async def start(self, settings: Settings):
        bot = create_bot(settings)
        task = asyncio.create_task(bot.start(TOKEN))
        ready = asyncio.create_task(bot.wait_until_ready())
        await asyncio.wait({task, ready}, timeout=READY_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        assert ready.done(), "the bot did not become ready"
        self.running.append((bot, task))
        return bot

    async def stop(self, bot) -> None:
        for entry in [entry for entry in self.running if entry[0] is bot]:
            self.running.remove(entry)
            await bot.close()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(entry[1], 10)


@pytest.fixture
async def bots(fake_discord):
    running = RunningBots()
    yield running
    for bot, _task in list(running.running):
        await running.stop(bot)
