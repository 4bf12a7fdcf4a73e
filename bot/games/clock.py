"""The game clock: every running game's time, on asyncio.

A reminder at half time, the timeout move at the deadline, and the bot's own turn as soon as an
outcome gives it the turn; `resume` reschedules them all after a restart. One clock serves every
game of a process (the Discord bot builds it once; the console has none: it waits for what is typed).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any

from bot.games.common import BOT, Outcome
from bot.games.service import GameService
from storage.models import utcnow

log = logging.getLogger(__name__)

# A timer wakes this much after a deadline, so the game (which reads the wall clock) sees it passed.
DEADLINE_MARGIN_S = 0.05

Announce = Callable[[int, Outcome], Awaitable[None]]
Remind = Callable[[int, int | None, int], Awaitable[None]]  # channel, whose turn, seconds left


class GameClock:
    """One asyncio task per channel with a running game: it waits for the half-time reminder and
    the deadline, or plays the bot's turn at once. Every committed outcome goes through `follow`,
    which replaces the channel's task; the moves themselves are committed by the service."""

    def __init__(
        self, service: GameService, announce: Announce, remind: Remind, now: Callable[[], datetime] = utcnow
    ) -> None:
        self.service, self.announce, self.remind, self.now = service, announce, remind, now
        self.tasks: dict[int, asyncio.Task[None]] = {}

    def follow(self, channel_id: int, outcome: Outcome) -> None:
        """Schedule what comes after `outcome`; a refusal that changed nothing, or a 下联 the bot gave
        outside any game, changes no timer."""
        if outcome.game_id is not None and (outcome.accepted or outcome.moves):
            self._schedule(
                channel_id,
                None if outcome.finished else outcome.turn,
                None if outcome.finished else outcome.deadline,
                outcome.reminder_at,
                outcome.finished,
            )

    async def resume(self) -> int:
        """Reschedule every running game (at start-up); returns how many."""
        running = await self.service.resume_all()
        for game in running:
            self._schedule(game.channel_id, game.turn, game.deadline, game.reminder_at, False)
        return len(running)

    def _schedule(
        self, channel_id: int, turn: int | None, deadline: datetime | None, reminder_at: datetime | None, finished: bool
    ) -> None:
        running = self.tasks.pop(channel_id, None)
        if running is not None and running is not asyncio.current_task():
            running.cancel()
        if finished:
            return
        if turn == BOT:
            work: Coroutine[Any, Any, Outcome] = self._bot_turn(channel_id)
        elif deadline is not None:
            work = self._at_deadline(channel_id, turn, deadline, reminder_at)
        else:
            return
        self.tasks[channel_id] = asyncio.create_task(self._guarded(channel_id, work))

    async def _at_deadline(
        self, channel_id: int, turn: int | None, deadline: datetime, reminder_at: datetime | None
    ) -> Outcome:
        if reminder_at is not None and await self._sleep_until(reminder_at):
            await self.remind(channel_id, turn, round((deadline - self.now()).total_seconds()))
        await self._sleep_until(deadline)
        self._detach(channel_id)
        return await self.service.timeout(channel_id, self.now())

    async def _bot_turn(self, channel_id: int) -> Outcome:
        self._detach(channel_id)
        return await self.service.bot_turn(channel_id, self.now())

    def _detach(self, channel_id: int) -> None:
        """A move that has begun is not cancelled by a newer timer: it commits, then schedules."""
        if self.tasks.get(channel_id) is asyncio.current_task():
            del self.tasks[channel_id]

    async def _sleep_until(self, moment: datetime) -> bool:
        """Wait for `moment`; False when it had already passed (a game resumed late)."""
        seconds = (moment - self.now()).total_seconds()
        if seconds <= 0:
            return False
        await asyncio.sleep(seconds + DEADLINE_MARGIN_S)
        return True

    async def _guarded(self, channel_id: int, work: Coroutine[Any, Any, Outcome]) -> None:
        try:
            outcome = await work
            await self.announce(channel_id, outcome)
            self.follow(channel_id, outcome)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the clock of the game in channel %s failed", channel_id)

    async def close(self) -> None:
        tasks = list(self.tasks.values())
        self.tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
