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
from bot.games.chain import ChainGame, ChainRules, chain_form, open_form
from bot.games.common import BOT, BOT_NAME_EN, BOT_NAME_ZH, Outcome, Player, TurnGame
from bot.games.duilian import CoupletBook, DuilianGame
from bot.games.feihua import STRENGTHS, FeihuaGame
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


# --- the console -------------------------------------------------------------------------------

CONSOLE_CHANNEL_ID = 1  # the console's one table
YES = ("yes", "y", "true", "1", "是")
STRICT_WORDS = ("严", "嚴", "strict")
BAD_FORM = Reason("bad_form", "体裁须为 五绝 七绝 五律 七律，或 open5 / open7（开放联句，lines=句数）。",
                  "The form is 五绝, 七绝, 五律, 七律 (wujue qijue wulv qilv), or open5 / open7 with lines=N.")
BAD_NUMBER = Reason("bad_number", "数字看不懂。", "That is not a number.")


class ConsoleGames:
    """联句, 飞花令 and 对对联 in a terminal. One person plays every seat they add
    (`/chain join 杜甫`): a line is played for whichever of their seats has the turn. The bot's
    turns are played at once; there is no clock, since the console waits for what is typed."""

    def __init__(self, services: Services, person) -> None:
        self.service = game_service(services)
        self.person = person
        self.seats = {person.id: person.as_user}
        self.commands = {"/chain": self.chain, "/feihua": self.feihua, "/duilian": self.duilian}

    def name(self, who: int | None) -> str:
        seat = self.seats.get(who)
        return bot_name(self.person.locale) if who == BOT else seat.display_name if seat else "?"

    def _say(self, reason: Reason) -> str:
        return words(reason, self.person.locale)

    async def _seat(self):
        """The console's seat whose turn it is (the first seat when it is nobody's)."""
        game = await self.service.status(CONSOLE_CHANNEL_ID)
        return self.seats.get(game.rotation.current if game else None, self.person.as_user)

    async def _told(self, outcome: Outcome, show_line: bool = True) -> str:
        """The outcome in words, then the bot's turns that follow it, and a finished poem."""
        told = [describe(outcome, self.person.locale, self.name, show_line)]
        while True:
            if outcome.poem_id is not None:
                told.append(poem_credits(outcome, self.person.locale, self.name))
                told.append(i18n.bilingual(self.person.locale, f"（第 {outcome.poem_id} 首，/rate {outcome.poem_id} 星数 评分）",
                                           f"(poem #{outcome.poem_id}: /rate {outcome.poem_id} STARS)"))
            if not (outcome.game_id is not None and (outcome.accepted or outcome.moves) and outcome.bot_to_play):
                return "\n".join(part for part in told if part)
            outcome = await self.service.bot_turn(CONSOLE_CHANNEL_ID, utcnow())
            told.append(describe(outcome, self.person.locale, self.name))

    async def _turn_move(self, verb: str, words_: list[str]) -> str | None:
        """join, line, pass, status and stop, shared by /chain and /feihua; None for another verb."""
        channel, now = CONSOLE_CHANNEL_ID, utcnow()
        if verb == "join":
            seat = Player(max(self.seats) + 1, " ".join(words_)[:100] or f"{self.person.display_name}{len(self.seats) + 1}")
            outcome = await self.service.join(channel, seat)
            if outcome.accepted:
                self.seats[seat.id] = seat
            return await self._told(outcome)
        if verb == "line":
            return await self._told(await self.service.submit(channel, await self._seat(), " ".join(words_), now))
        if verb == "pass":
            return await self._told(await self.service.pass_turn(channel, await self._seat(), now))
        if verb == "status":
            return status_text(await self.service.status(channel), self.person.locale, self.name, now)
        if verb == "stop":
            return await self._told(await self.service.stop(channel, self.person.as_user, moderator=True))
        return None

    async def chain(self, words_: list[str], options: dict[str, str]) -> str:
        verb, rest = (words_[0], words_[1:]) if words_ else ("status", [])
        if verb != "start":
            return await self._turn_move(verb, rest) or "/chain start|join|line|pass|status|stop"
        name = rest[0] if rest else "qijue"
        try:
            lines = int(options.get("lines", 8))
            turn = int(options.get("turn", 120))
        except ValueError:
            return self._say(BAD_NUMBER)
        try:
            shape = open_form(int(name[-1]), lines) if name in ("open5", "open7") else chain_form(name)
        except ValueError:
            return self._say(BAD_FORM)
        rules = ChainRules(shape, any(word in STRICT_WORDS for word in rest[1:]),
                           options.get("bot", "yes").lower() in YES, turn)
        return await self._told(await self.service.start_chain(
            CONSOLE_CHANNEL_ID, None, self.person.as_user, rules, utcnow(), opening=options.get("opening"),
            theme=options.get("theme")))

    async def feihua(self, words_: list[str], options: dict[str, str]) -> str:
        verb, rest = (words_[0], words_[1:]) if words_ else ("status", [])
        if verb != "start":
            return await self._turn_move(verb, rest) or "/feihua start 字|join|line|status|stop"
        if options.get("strength", "medium") not in STRENGTHS:
            return "strength=" + "|".join(STRENGTHS)
        try:
            turn = int(options.get("turn", 60))
        except ValueError:
            return self._say(BAD_NUMBER)
        return await self._told(await self.service.start_feihua(
            CONSOLE_CHANNEL_ID, None, self.person.as_user, " ".join(rest), utcnow(),
            options.get("bot", "yes").lower() in YES, options.get("strength", "medium"), turn))

    async def duilian(self, words_: list[str], options: dict[str, str]) -> str:
        if words_[:1] == ["answer"]:
            outcome = await self.service.submit(CONSOLE_CHANNEL_ID, await self._seat(), " ".join(words_[1:]), utcnow())
        elif words_[:1] == ["end"]:
            # The console has no clock: ending the round is what its deadline would do.
            game = await self.service.status(CONSOLE_CHANNEL_ID)
            deadline = game.rotation.deadline if isinstance(game, DuilianGame) else None
            outcome = await self.service.timeout(CONSOLE_CHANNEL_ID, deadline or utcnow())
        elif words_:
            outcome = await self.service.answer_couplet(" ".join(words_))
        else:
            outcome = await self.service.start_duilian(CONSOLE_CHANNEL_ID, None, self.person.as_user, utcnow())
        return await self._told(outcome, show_line=False)
