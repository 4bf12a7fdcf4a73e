"""`lianju console`: the bot's commands in a terminal, through the same services, without Discord.

    /poem 月                      /poem 春江 form=七绝 acrostic=春江花月
    /rate 3 5                     /top [week|month|all]     /mypoems
    /model [info|rollback]        /forgetme [yes]           /help      /quit
    /settings [turn 联句|飞花令|对对联 秒数 | form 七律 | language zh-CN|zh-TW|en|players | card on|off]
    /chain start 七绝 [严] [opening=朝辞白帝彩云间] [theme=月] [bot=no] [turn=120]   /chain start open7 lines=12
    /chain join 杜甫   /chain line 黄河入海流   /chain pass   /chain status   /chain stop
    /feihua start 月 [strength=weak|medium|strong] [bot=no]   /feihua join 杜甫   /feihua line …   /feihua stop
    /duilian          /duilian answer 下联      /duilian end     /duilian 上联（机器人对下联）
    (every game: /GAME start … | join NAME | line … | pass | status | stop | end)

Lines come from stdin, so `echo "/poem 月" | lianju console` works too.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import TextIO, TypeVar

import typer

from bot import i18n
from bot.config import Settings
from bot.games.common import BOT, GAMES, Outcome, Player, Registry, TurnGame, as_recorded
from bot.games.service import GameService, game_service
from bot.games.texts import bot_name, describe, mention, poem_credits, status_text, words
from bot.services import (
    FOLLOW_PLAYERS,
    PERIODS,
    ModelReport,
    Person,
    PoemCard,
    PoemRequest,
    Services,
    UserError,
    forgotten_text,
    my_poems_entry,
    top_entry,
)
from engine.prosody import Reason
from engine.text import undecodable
from storage import limits
from storage.errors import InvalidInput
from storage.models import GameKind, Script, utcnow

log = logging.getLogger(__name__)

CONSOLE_USER_ID = 1  # the console's one person; a valid Discord id that no real account has
CONSOLE_CHANNEL_ID = 1  # the console's one table
CONSOLE_GUILD_ID = 1  # the console's settings are kept as a server's
SETTINGS_USAGE = "/settings [turn GAME SECONDS | form FORM | language zh-CN|zh-TW|en|players | card on|off]"
TOP_USAGE = f"/top [{'|'.join(PERIODS)}]"
INTERRUPTED = 130  # the exit status of a program a Ctrl-C ended (128 + SIGINT), as shells report it
# The script of the poems for each Chinese locale: the console has no /字体, so --locale is its choice.
LOCALE_SCRIPTS = {i18n.ZH_CN: Script.SIMPLIFIED, i18n.ZH_TW: Script.TRADITIONAL}
HELP = (__doc__ or "").split("\n\n")[1]

Command = Callable[[list[str], dict[str, str]], Awaitable[str]]
Number = TypeVar("Number", int, float)


def render(card: PoemCard, locale: str) -> str:
    """The card with its labels in the reader's language: a card's own locale is its server's, for a
    post that everyone in a channel reads, while the console's only reader is its person."""
    card = replace(card, locale=locale)
    rating = (
        i18n.text("poem.rated", card.locale, count=card.rating_count, mean=f"{card.rating_mean:.1f}")
        if card.rating_count
        else i18n.text("poem.unrated", card.locale)
    )
    return "\n".join(
        [
            f"《{card.title}》  {card.form_label} · {card.rhyme_group or '—'}",
            *(f"  {line}" for line in card.body.split("\n")),
            f"  {i18n.text('poem.footer', card.locale, model=card.model_name, poem_id=card.poem_id)} · {rating}",
        ]
    )


class ConsoleGames:
    """Every registered game in a terminal, as `/<its command> verb …`. One person plays every seat
    they add (`/chain join 杜甫`): a line is played for whichever of their seats has the turn. The
    bot's turns are played at once; there is no clock, since the console waits for what is typed."""

    def __init__(
        self,
        service: GameService,
        person: Person,
        games: Registry = GAMES,
        check_poem: Callable[[PoemRequest], None] | None = None,
    ) -> None:
        self.service = service
        self.person = person
        self.check_poem = check_poem  # Services.check_poem_request (what /poem refuses); None: no poet
        self.seats: dict[int, Player] = {person.id: person.as_user}
        self.commands: dict[str, Command] = {f"/{game.command}": partial(self.play, game) for game in games.values()}

    def name(self, who: int | None) -> str:
        seat = self.seats.get(who) if who is not None else None
        if who == BOT:
            return bot_name(self.person.locale)
        # a seat storage no longer has: its person was forgotten
        return seat.display_name if seat else mention(None, self.person.locale)

    async def _running(self) -> TurnGame | None:
        """The console table's game; every seat at it is the console person's, also those added
        before a restart, so the seats are read from storage each time."""
        game = await self.service.status(CONSOLE_CHANNEL_ID)
        if game is not None:
            self.seats.update(game.players)
        return game

    async def _seat(self) -> Player:
        """The console's seat whose turn it is (the first seat when it is nobody's)."""
        game = await self._running()
        current = game.rotation.current if game else None
        return self.seats.get(current, self.person.as_user) if current is not None else self.person.as_user

    def _new_seat(self, typed: list[str]) -> Player:
        """The seat `/GAME join NAME` asks for: the seat of that name if there is one, else a new one."""
        name = as_recorded(" ".join(typed)) or f"{self.person.display_name}{len(self.seats) + 1}"
        known = next((seat for seat in self.seats.values() if seat.display_name == name), None)
        return known or Player(max(self.seats) + 1, name)

    async def _told(self, outcome: Outcome, show_line: bool) -> str:
        """The outcome in words, then the bot's turns that follow it, and a finished poem."""
        told = [describe(outcome, self.person.locale, self.name, show_line)]
        while True:
            if outcome.poem_id is not None:
                told.append(poem_credits(outcome, self.person.locale, self.name))
                told.append(
                    i18n.bilingual(
                        self.person.locale,
                        f"（第 {outcome.poem_id} 首，/rate {outcome.poem_id} 星数 评分）",
                        f"(poem #{outcome.poem_id}: /rate {outcome.poem_id} STARS)",
                    )
                )
            if not (outcome.game_id is not None and (outcome.accepted or outcome.moves) and outcome.bot_to_play):
                return "\n".join(part for part in told if part)
            outcome = await self.service.bot_turn(CONSOLE_CHANNEL_ID, utcnow())
            told.append(describe(outcome, self.person.locale, self.name))

    async def forget_person(self) -> str:
        """What the console's game does when its person is forgotten (GameService.forget_player)."""
        left = await self.service.forget_player(self.person.id, utcnow())
        return "\n".join(describe(outcome, self.person.locale, self.name) for _, outcome in left)

    async def play(self, game: type[TurnGame], typed: list[str], options: dict[str, str]) -> str:
        verb, rest = game.console_verb(typed)
        channel, now = CONSOLE_CHANNEL_ID, utcnow()
        running = await self._running()
        if verb == "start":
            if "theme" in options and self.check_poem:  # the bot's opening is on it: refused as /poem would
                self.check_poem(PoemRequest(theme=options["theme"]))  # refuse it, not dropped
            request = game.console_request(rest, options)
            if isinstance(request, Reason):
                return words(request, self.person.locale)
            outcome = await self.service.start(channel, None, self.person.as_user, request, now)
        elif verb == "join":
            seat = self._new_seat(rest)
            outcome = await self.service.join(channel, game.kind, seat)
            if outcome.accepted:
                self.seats[seat.id] = seat
        elif verb == "line":
            outcome = await self.service.submit(channel, game.kind, await self._seat(), " ".join(rest), now)
        elif verb == "pass":
            outcome = await self.service.pass_turn(channel, game.kind, await self._seat(), now)
        elif verb == "status":
            return status_text(running, self.person.locale, self.name, now)
        elif verb == "stop":
            outcome = await self.service.stop(channel, game.kind, self.person.as_user, moderator=True)
        elif verb == "end":
            # The console has no clock: ending the turn is what its deadline would do.
            outcome = await self.service.timeout(channel, (running.rotation.deadline if running else None) or now)
        elif verb == "ask":
            outcome = await self.service.ask(game.kind, " ".join(rest))
        else:
            return game.usage
        return await self._told(outcome, game.shows_line)


class Console:
    def __init__(self, services: Services, person: Person, out: TextIO | None = None) -> None:
        # sys.stdout as it is when the console starts, not when this module was imported
        self.services, self.person, self.out = services, person, out or sys.stdout
        self.games = ConsoleGames(game_service(services), person, check_poem=services.check_poem_request)
        self.commands: dict[str, Command] = {
            "/poem": self.poem,
            "/rate": self.rate,
            "/top": self.top,
            "/mypoems": self.mypoems,
            "/model": self.model,
            "/settings": self.settings,
            "/forgetme": self.forgetme,
            **self.games.commands,
        }

    async def handle(self, line: str) -> str | None:
        """One typed line → the reply; None for a line that is not a command."""
        if undecodable(line):
            return i18n.text("error.not_utf8", self.person.locale)
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        if not words:
            return None
        name, rest = words[0], words[1:]
        if name in ("/help", "help"):
            return HELP
        if name not in self.commands:
            return f"? {name}\n{HELP}"
        positional = [word for word in rest if "=" not in word]
        options = dict(word.split("=", 1) for word in rest if "=" in word)
        try:
            return await self.commands[name](positional, options)
        except UserError as error:
            return error.message(self.person.locale)
        except InvalidInput as error:
            return i18n.text("error.invalid", self.person.locale, problem=error.problem)
        except Exception:  # the console goes on whatever a command ran into; the log has the details
            log.exception("console command %r failed", line[:200])
            return i18n.text("error.internal", self.person.locale)

    async def poem(self, words: list[str], options: dict[str, str]) -> str:
        form = options.get("form") or (await self.services.guild_settings(CONSOLE_GUILD_ID)).default_form
        request = PoemRequest(
            theme=" ".join(words),
            form=form,
            acrostic=options.get("acrostic"),
            temperature=_number(options["temperature"], float) if "temperature" in options else None,
        )
        return render(await self.services.write_poem(request, self.person), self.person.locale)

    async def rate(self, words: list[str], options: dict[str, str]) -> str:
        if len(words) != 2:
            return "/rate POEM_ID STARS"
        poem_id, stars = _number(words[0], int), _number(words[1], int)
        card = await self.services.rate(poem_id, self.person, stars)
        thanks = i18n.text("rating.thanks", self.person.locale, poem_id=poem_id, stars=stars)
        return thanks + "\n" + render(card, self.person.locale)

    async def top(self, words: list[str], options: dict[str, str]) -> str:
        if len(words) > 1 or (words and words[0] not in PERIODS):
            return TOP_USAGE
        period = words[0] if words else "all"
        period_name = i18n.text(f"period.{period}", self.person.locale)
        rated = await self.services.top(None, period)
        if not rated:
            return i18n.text("top.empty", self.person.locale, period=period_name)
        return "\n".join(
            [
                i18n.text("top.title", self.person.locale, period=period_name),
                *(top_entry(rank, entry, self.person.locale) for rank, entry in enumerate(rated, 1)),
            ]
        )

    async def mypoems(self, words: list[str], options: dict[str, str]) -> str:
        poems = await self.services.my_poems(self.person)
        if not poems:
            return i18n.text("mypoems.console_empty", self.person.locale)  # mypoems.empty names /作诗
        return "\n".join(my_poems_entry(poem, self.person.locale) for poem in poems)

    async def model(self, words: list[str], options: dict[str, str]) -> str:
        # The console's person runs the bot on their own machine: they may roll back like a server manager.
        if words == ["rollback"]:
            report = await self.services.roll_back_model()
            return i18n.text("model.rolled_back", self.person.locale) + "\n" + report.describe(self.person.locale)
        if words not in ([], ["info"]):
            return "/model [info|rollback]"
        return (await self.services.follow_registry()).describe(self.person.locale)

    async def settings(self, words: list[str], options: dict[str, str]) -> str:
        """The console's own settings, as a server manager sets theirs with /settings."""
        services, guild = self.services, CONSOLE_GUILD_ID
        match words:
            case [] | ["show"]:
                chosen = await services.guild_settings(guild)
            case ["turn", game, seconds]:
                kind = game_kind(game)
                if kind is None:
                    return SETTINGS_USAGE
                chosen = await services.set_turn_seconds(guild, kind, _number(seconds, int))
            case ["form", form]:
                chosen = await services.set_default_form(guild, form)
            case ["language", language]:
                chosen = await services.set_post_locale(guild, None if language == FOLLOW_PLAYERS else language)
            case ["card", ("on" | "off") as switch]:
                chosen = await services.set_poem_card(guild, switch == "on")
            case _:
                return SETTINGS_USAGE
        return chosen.describe(self.person.locale)

    async def forgetme(self, words: list[str], options: dict[str, str]) -> str:
        locale = self.person.locale
        if words != ["yes"]:
            return i18n.text("forget.confirm", locale) + "\n" + i18n.text("forget.console_confirm", locale)
        left = await self.games.forget_person()
        return "\n".join(filter(None, [left, forgotten_text(await self.services.forget(self.person), locale)]))

    async def run(self, lines: TextIO, prompt: bool, ctrl_c: CtrlC | None = None) -> bool:
        """Answer line after line: True at /quit or the input's end, False after the Ctrl-C of `ctrl_c`."""
        try:
            while True:
                if prompt:
                    self.out.write("联句> ")
                    self.out.flush()
                line = ctrl_c.read(lines) if ctrl_c else lines.readline()
                if not line or line.strip() in ("/quit", "/exit"):
                    return True
                reply = await self.handle(line.strip())
                if reply:
                    print(reply, file=self.out, flush=True)
        except (KeyboardInterrupt, asyncio.CancelledError):
            if ctrl_c is None or not ctrl_c.pressed:  # a cancel from elsewhere is not ours to end
                raise
            await ctrl_c.forgive()
            print(
                ("\n" if prompt else "") + i18n.bilingual(self.person.locale, "再见。", "Bye."),
                file=self.out,
                flush=True,
            )
            return False


class CtrlC:
    """Ctrl-C for a whole console session, in place of asyncio.run's. The first one ends the console:
    while it waits for a line, at once (asyncio.run's cancel waits for the blocking read to return,
    that is, for Enter or the input's end), else by cancelling the command under way, as asyncio.run
    does. Any later one is ignored, so that the database and the poet still close: with asyncio.run's
    handler a second Ctrl-C, or the copy `timeout -s INT` sends to the whole process group, broke
    off the closing (SQLAlchemy's "Exception closing connection" traceback, or a poet thread left
    mid-batch that aborted the process at exit)."""

    def __init__(self, task: asyncio.Task) -> None:
        self.task, self.pressed, self.reading = task, False, False
        self.previous: object = None

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():  # only it may handle signals
            self.previous = signal.signal(signal.SIGINT, self._pressed)
        return self

    def __exit__(self, *exception: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)  # type: ignore[arg-type]

    def _pressed(self, signum: int, frame: object) -> None:
        if self.pressed:
            return
        self.pressed = True
        if self.reading:
            raise KeyboardInterrupt
        self.task.cancel()
        self.task.get_loop().call_soon_threadsafe(lambda: None)  # wake a loop that waits in select()

    def read(self, lines: TextIO) -> str:
        """The next line, or KeyboardInterrupt for a Ctrl-C that came while or before it was read."""
        self.reading = True
        try:
            if self.pressed:  # it came after the last await, which the cancel waits for
                raise KeyboardInterrupt
            return lines.readline()
        finally:
            self.reading = False

    async def forgive(self) -> None:
        """Take the cancel back once it has ended the console, so that the closing can await. A cancel made
        while the task ran between two awaits (a reply printed, the next line not yet asked for) waits for the
        task's next await, and Python 3.11's uncancel leaves it waiting: it struck the closing (SQLAlchemy's
        "Exception closing connection", one console in four under load). It is taken here."""
        if self.task.cancelling():
            self.task.uncancel()
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            if self.task.cancelling():  # a cancel made since, not the Ctrl-C's
                raise


def console_locale(value: str) -> str:
    """One of i18n.LOCALES, in any case; anything else is refused (normalise_locale would read it as en)."""
    known = {locale.lower(): locale for locale in i18n.LOCALES}
    if value.lower() not in known:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(i18n.LOCALES)}.", param_hint="'--locale'")
    return known[value.lower()]


def game_kind(name: str) -> GameKind | None:
    """A game by its command (chain) or its Chinese name (联句)."""
    for kind in GameKind:
        if name in (
            kind.value,
            i18n.text(f"game.{kind.value}", i18n.ZH_CN),
            i18n.text(f"game.{kind.value}", i18n.ZH_TW),
        ):
            return kind
    return None


def _number(text: str, kind: type[Number]) -> Number:
    try:
        value = kind(text)
    except ValueError:
        raise UserError("error.invalid", problem=f"{text[:20]!r}") from None
    if not -limits.SNOWFLAKE_MAX <= value <= limits.SNOWFLAKE_MAX:  # beyond any id, star count or knob
        raise UserError("error.invalid", problem=f"{text[:20]!r}")
    return value


async def run_console(settings: Settings, locale: str, display_name: str, lines: TextIO = sys.stdin) -> None:
    """The console until /quit or the input's end; after a Ctrl-C it exits with INTERRUPTED, the
    database closed first (what was stored stays)."""
    person = Person(CONSOLE_USER_ID, display_name[:100] or "console", console_locale(locale))  # before anything
    task = asyncio.current_task()
    assert task is not None  # run by asyncio.run
    with CtrlC(task) as ctrl_c:
        try:
            finished = await _session(settings, person, lines, ctrl_c)
        except asyncio.CancelledError:  # a Ctrl-C before the console ran: what had started is closed
            if not ctrl_c.pressed:
                raise
            await ctrl_c.forgive()
            finished = False
    if not finished:
        raise typer.Exit(INTERRUPTED)


async def _session(settings: Settings, person: Person, lines: TextIO, ctrl_c: CtrlC) -> bool:
    services = await Services.start(settings)
    try:
        if person.locale in LOCALE_SCRIPTS:  # as /字体 stores it on Discord; en keeps the script chosen before
            await services.set_script(person, LOCALE_SCRIPTS[person.locale], for_guild=False)
        if services.unloadable is not None:  # serving an earlier model: say so, and how to roll back
            print(ModelReport(services.model, services.unloadable).describe(person.locale), flush=True)
        return await Console(services, person).run(lines, lines.isatty(), ctrl_c)
    finally:
        await services.close()
