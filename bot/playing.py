"""The games as the bot and the console play them, on top of bot.games.service.GameService.

`game_service(services)` builds the one GameService of a process from its Services (database,
poet, the corpus's line index and couplets when the corpus is built). `GameClock` owns every
running game's time: a reminder at half time, the timeout move at the deadline, and the bot's own
turn as soon as an outcome gives it the turn; `resume` reschedules them all after a restart.
The rest turns an Outcome into words in the reader's language (zh-CN, zh-TW or English).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

from bot import i18n
from bot.games.chain import ChainGame
from bot.games.common import BOT, BOT_NAME_EN, BOT_NAME_ZH, Outcome, TurnGame
from bot.games.duilian import CoupletBook, DuilianGame
from bot.games.feihua import FeihuaGame
from bot.games.service import NO_GAME, GameService
from bot.services import Services
from engine.corpus import LineIndex
from engine.prosody import Reason

log = logging.getLogger(__name__)

# A timer wakes this much after a deadline, so the game (which reads the wall clock) sees it passed.
DEADLINE_MARGIN_S = 0.05

Names = Callable[[int | None], str]  # a player id (or BOT) as the reader sees it


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class CurrentPoet:
    """The poet the services serve right now: the model registry may swap it while a game runs."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def continue_line(self, previous_lines: list[str], form: str, must_contain: str | None = None,
                            seed: int | None = None) -> str:
        return await self.services.poet.continue_line(previous_lines, form, must_contain=must_contain, seed=seed)

    async def match_couplet(self, first_line: str, seed: int | None = None) -> str:
        return await self.services.poet.match_couplet(first_line, seed=seed)


def game_service(services: Services) -> GameService:
    """The games' service; 飞花令 and the corpus's 上联 need `lianju corpus build` to have run."""
    corpus = services.settings.corpus_dir
    lines = LineIndex(corpus / "corpus.sqlite") if (corpus / "corpus.sqlite").is_file() else None
    couplets = CoupletBook(corpus / "couplets.jsonl") if (corpus / "couplets.jsonl").is_file() else None
    return GameService(services.database, CurrentPoet(services), lines, couplets)


# --- words -------------------------------------------------------------------------------------

def words(reason: Reason, locale: object) -> str:
    return i18n.bilingual(locale, reason.zh, reason.en)


def bot_name(locale: object) -> str:
    return i18n.bilingual(locale, BOT_NAME_ZH, BOT_NAME_EN)


def describe(outcome: Outcome, locale: object, name: Names, show_line: bool = True) -> str:
    """What a player reads after a move: the line and who wrote it, then the reasons and notes."""
    said = [words(reason, locale) for reason in [*outcome.reasons, *outcome.notes]]
    if show_line and outcome.accepted and outcome.line and outcome.by is not None:
        said.insert(0, f"{name(outcome.by)}：{i18n.bilingual(locale, outcome.line, outcome.line)}")
    return "\n".join(said)


def poem_credits(outcome: Outcome, locale: object, name: Names) -> str:
    """The finished 联句, every line with its author."""
    return "\n".join(f"{i18n.bilingual(locale, line, line)}　—— {name(author)}" for line, author in outcome.poem)


def reminder(turn: int | None, seconds_left: int, locale: object, name: Names) -> str:
    left = i18n.bilingual(locale, f"还剩 {seconds_left} 秒。", f"{seconds_left} s left.")
    return f"⏳ {name(turn)}：{left}" if turn is not None else f"⏳ {left}"


def status_text(game: TurnGame | None, locale: object, name: Names, now: datetime) -> str:
    """Where a channel's game stands: the poem so far, the key character or the 上联, whose turn."""
    if game is None:
        return words(NO_GAME, locale)

    def say(zh: str, en: str) -> str:
        return i18n.bilingual(locale, zh, en)

    if isinstance(game, ChainGame):
        rules = game.rules
        strictness = say("严", "strict") if rules.strict else say("宽", "lenient")
        said = [f"{say(rules.form.label_zh, rules.form.label_en)} · {strictness} · "
                f"{say('韵部', 'rhyme group')} {game.rhyme_group or '—'}"]
        said += [f"{number}. {say(line, line)}　—— {name(author)}"
                 for number, (line, author) in enumerate(game.lines, 1)]
    elif isinstance(game, FeihuaGame):
        out = "、".join(name(who) for who in game.rotation.order if who in game.rotation.out) or "—"
        said = [say(f"飞花令「{game.rules.keyword}」 · 已接 {len(game.used)} 句 · 出局：{out}",
                    f"飞花令 on 「{game.rules.keyword}」 · {len(game.used)} lines so far · out: {out}")]
    else:
        said = [say(f"上联：{game.first} · 已有 {len(game.answers)} 个下联",
                    f"First line: {game.first} · {len(game.answers)} answers so far")]
    rotation = game.rotation
    if rotation.deadline is not None:
        left = max(0, round((rotation.deadline - now).total_seconds()))
        turn = "" if isinstance(game, DuilianGame) else say(f"轮到{name(rotation.current)}，", f"{name(rotation.current)}'s turn, ")
        said.append(turn + say(f"还剩 {left} 秒。", f"{left} s left."))
    elif rotation.current is not None:
        said.append(say(f"轮到{name(rotation.current)}。", f"It is {name(rotation.current)}'s turn."))
    return "\n".join(said)


# --- the clock ---------------------------------------------------------------------------------

Announce = Callable[[int, Outcome], Awaitable[None]]
Remind = Callable[[int, int | None, int], Awaitable[None]]  # channel, whose turn, seconds left


class GameClock:
    """One asyncio task per channel with a running game: it waits for the half-time reminder and
    the deadline, or plays the bot's turn at once. Every committed outcome goes through `follow`,
    which replaces the channel's task; the moves themselves are committed by the service."""

    def __init__(self, service: GameService, announce: Announce, remind: Remind,
                 now: Callable[[], datetime] = utcnow) -> None:
        self.service, self.announce, self.remind, self.now = service, announce, remind, now
        self.tasks: dict[int, asyncio.Task] = {}

    def follow(self, channel_id: int, outcome: Outcome) -> None:
        """Schedule what comes after `outcome`; a refusal that changed nothing, or a 下联 the bot gave
        outside any game, changes no timer."""
        if outcome.game_id is not None and (outcome.accepted or outcome.moves):
            self._schedule(channel_id, None if outcome.finished else outcome.turn,
                           None if outcome.finished else outcome.deadline, outcome.reminder_at, outcome.finished)

    async def resume(self) -> int:
        """Reschedule every running game (at start-up); returns how many."""
        running = await self.service.resume_all()
        for game in running:
            self._schedule(game.channel_id, game.turn, game.deadline, game.reminder_at, False)
        return len(running)

    def _schedule(self, channel_id: int, turn: int | None, deadline: datetime | None,
                  reminder_at: datetime | None, finished: bool) -> None:
        running = self.tasks.pop(channel_id, None)
        if running is not None and running is not asyncio.current_task():
            running.cancel()
        if finished:
            return
        if turn == BOT:
            work = self._bot_turn(channel_id)
        elif deadline is not None:
            work = self._at_deadline(channel_id, turn, deadline, reminder_at)
        else:
            return
        self.tasks[channel_id] = asyncio.create_task(self._guarded(channel_id, work))

    async def _at_deadline(self, channel_id: int, turn: int | None, deadline: datetime,
                           reminder_at: datetime | None):
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

    async def _guarded(self, channel_id: int, work) -> None:
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
