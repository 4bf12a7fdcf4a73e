"""What every game shares: players and turn order, the clock, recorded moves, outcomes, and the
registry through which the service, the console and the status code find a game by its kind.

A game is plain data changed by methods that take the time (`now`) as an argument, so the cogs,
the console and the tests drive the same code and no test sleeps. Every method returns an
`Outcome`: accepted or refused with reasons in Chinese and English, what to record, whose turn
it is and until when, and whether the game is over. Storage is the service's business
(bot/games/service.py); a game is rebuilt from its recorded moves after a restart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol, Self, TypeVar

from engine.corpus import LineHit
from engine.prosody import Reason
from engine.text import strip_invisible
from storage import limits
from storage.models import Game, GameKind, GameTurn
from storage.repo import DiscordUser as Player

# The bot's place in a turn order; Discord ids start at 1, so it cannot be a person's.
BOT = 0
BOT_NAME_ZH, BOT_NAME_EN = "联句君", "Lianju"  # a name: it begins English sentences ("Lianju wins!")
# Someone who asked the bot to forget them, where their turns and lines remain (not 已注销: "logged out" in zh-TW).
FORGOTTEN_ZH, FORGOTTEN_EN = "（已删除的用户）", "(deleted user)"
MAX_PLAYERS = 20

# Turns that are not lines are recorded with these in place of a line (storage needs one).
TIMEOUT_MARK = "（超时）"
PASS_MARK = "（过）"
GIVE_UP_MARK = "（认输）"


# The console's yes to an option such as bot=yes; a number it cannot read.
YES = ("yes", "y", "true", "1", "是")
BAD_NUMBER = Reason("bad_number", "数字看不懂。", "That is not a number.")
TURN_SECONDS = range(5, limits.TURN_SECONDS_MAX + 1)  # a console turn= (the Discord option allows 5 to 3600)

# When the model could not be loaded, games go on without the bot's lines.
NO_POET = Reason(
    "no_poet",
    "诗人（模型）没有加载，机器人写不了诗句。",
    "The poet (the model) is not loaded, so the bot cannot write a line.",
)


class LinePoet(Protocol):
    """What the games ask of engine.Poet."""

    async def continue_line(
        self, previous_lines: list[str], form: str, must_contain: str | None = None, seed: int | None = None
    ) -> str: ...

    async def match_couplet(self, first_line: str, seed: int | None = None) -> str: ...

    async def couplet_likelihood(self, first_line: str, second_line: str) -> float: ...


class Lines(Protocol):
    """What the games ask of engine.corpus.LineIndex."""

    def find(self, line: str) -> list[LineHit]: ...

    def containing(self, chars: str, limit: int = 20) -> list[LineHit]: ...


def number_option(options: dict[str, str], name: str, default: int, allowed: range) -> int | Reason:
    """A console option such as turn=120 as a number within `allowed`, or why it is not one."""
    try:
        value = int(options.get(name, default))
    except ValueError:
        return BAD_NUMBER
    if value not in allowed:
        low, high = allowed.start, allowed.stop - 1
        return say("out_of_range", f"{name} 须在 {low} 到 {high} 之间。", f"{name} must be from {low} to {high}.")
    return value


def say(code: str, zh: str, en: str) -> Reason:
    """Why a move was refused."""
    return Reason(code, zh, en)


def note(code: str, zh: str, en: str) -> Reason:
    """Something everyone should hear: whose turn it is, who is out, where a line comes from."""
    return Reason(code, zh, en, severity="note")


def cite_zh(hit: LineHit) -> str:
    return f"{hit.author}《{hit.title}》"


def cite_en(hit: LineHit) -> str:
    return f"{hit.author}, 《{hit.title}》"


def as_recorded(text: str) -> str | None:
    """What storage keeps of a player's text: one line, no invisible characters, at most
    limits.LINE_MAX characters; None when nothing is left (such input is not recorded)."""
    cleaned = " ".join(strip_invisible(text).split())
    if not cleaned:
        return None
    return cleaned if len(cleaned) <= limits.LINE_MAX else cleaned[: limits.LINE_MAX - 1] + "…"


@dataclass(frozen=True)
class Move:
    """One recorded turn (a GameTurn row): the line, who, the verdict, and its reason code,
    which is what a game replays after a restart."""

    line: str
    player_id: int | None  # None: the bot, or a player who asked to be forgotten
    by_bot: bool
    accepted: bool
    code: str | None = None
    why: str | None = None  # the reason as people read it (Chinese)

    @property
    def author(self) -> int | None:
        return BOT if self.by_bot else self.player_id

    @property
    def stored_reason(self) -> str | None:
        """'code: 原因', the form GameTurn.reason keeps, within its limit."""
        if self.code is None:
            return None
        text = f"{self.code}: {self.why}" if self.why else self.code
        return text if len(text) <= limits.REASON_MAX else text[: limits.REASON_MAX - 1] + "…"

    @classmethod
    def from_turn(cls, turn: GameTurn) -> Move:
        code, _, why = (turn.reason or "").partition(": ")
        return cls(turn.line, turn.player_id, turn.by_bot, turn.accepted, code or None, why or None)

    @classmethod
    def refused(cls, line: str, who: int, reason: Reason) -> Move:
        return cls(line, None if who == BOT else who, who == BOT, False, reason.code, reason.zh)

    @classmethod
    def played(cls, line: str, who: int) -> Move:
        return cls(line, None if who == BOT else who, who == BOT, True)


@dataclass
class Outcome:
    """What one call did. `reasons` explain a refusal (or comment on an accepted line); `notes`
    are what everyone should hear (whose turn, who is out, the rhyme group, a citation)."""

    accepted: bool
    reasons: list[Reason] = field(default_factory=list)
    notes: list[Reason] = field(default_factory=list)
    line: str | None = None
    by: int | None = None  # the player id (or BOT) who moved
    moves: list[Move] = field(default_factory=list)  # to record, in order
    turn: int | None = None  # whose turn it is now: a player id or BOT; None when nobody's
    deadline: datetime | None = None
    reminder_at: datetime | None = None  # half time of the current turn
    finished: bool = False
    abandoned: bool = False
    winner: int | None = None  # 飞花令: the last one standing
    citation: LineHit | None = None  # where a line comes from in the corpus
    score: int | None = None  # 对对联: 0-100
    poem: list[tuple[str, int | None]] | None = None  # 联句 when complete: (line, author id or BOT)
    game_id: int | None = None  # set by the service
    poem_id: int | None = None  # set by the service when it saved the poem

    @property
    def bot_to_play(self) -> bool:
        return self.turn == BOT and not self.finished

    def text(self, locale: str = "zh") -> str:
        """Reasons and notes in the player's language, one per line."""
        english = locale.lower().startswith("en")
        return "\n".join(reason.en if english else reason.zh for reason in [*self.reasons, *self.notes])


def refusal(reason: Reason, **fields) -> Outcome:
    return Outcome(accepted=False, reasons=[reason], **fields)


@dataclass
class Rotation:
    """Whose turn it is: players in join order, the bot last when it plays; some may be out."""

    order: list[int]
    current: int | None
    turn_seconds: int | None
    deadline: datetime | None = None
    out: set[int] = field(default_factory=set)

    @property
    def standing(self) -> list[int]:
        return [who for who in self.order if who not in self.out]

    def join(self, player_id: int) -> None:
        at = self.order.index(BOT) if BOT in self.order else len(self.order)
        self.order.insert(at, player_id)

    def give_turn(self, who: int | None, now: datetime) -> None:
        self.current = who
        self.deadline = None if who is None or self.turn_seconds is None else now + timedelta(seconds=self.turn_seconds)

    def advance(self, now: datetime) -> None:
        """The turn goes to the next standing player after the current one (round the table)."""
        standing = self.standing
        if not standing:
            self.give_turn(None, now)
            return
        position = self.order.index(self.current) if self.current in self.order else -1
        following = self.order[position + 1 :] + self.order[: position + 1]
        self.give_turn(next(who for who in following if who not in self.out), now)

    @property
    def reminder_at(self) -> datetime | None:
        if self.deadline is None or self.turn_seconds is None:
            return None
        return self.deadline - timedelta(seconds=self.turn_seconds / 2)

    def timed_out(self, now: datetime) -> bool:
        return self.deadline is not None and now >= self.deadline


@dataclass(frozen=True)
class GameResources:
    """What a game may draw on besides its players: the poet, the corpus's lines and couplets."""

    poet: LinePoet | None  # None: the model is not loaded, and the bot writes no lines
    lines: Lines | None = None  # the corpus line index: 飞花令, and citing a 上联
    couplets: Couplets | None = None  # real 律诗 couplets for 对对联; without them the poet writes the 上联


class Couplets(Protocol):
    """What 对对联 asks of bot.games.duilian.CoupletBook."""

    def pick(self, rng: Any) -> tuple[str, str]: ...


FirstMove = Callable[[], "Outcome | Awaitable[Outcome]"]


@dataclass
class Opening:
    """A new game and its first move (which may refuse, and then nothing is stored), with the
    columns its rules are stored in (Game.form, Game.keyword)."""

    game: TurnGame
    first_move: FirstMove
    form: str
    keyword: str | None = None


class StartRequest(Protocol):
    """What a player asks for when starting a game; it opens the game of its kind."""

    async def open(self, starter: Player, now: datetime, resources: GameResources) -> Opening | Outcome:
        """The game and its first move, or a refusal."""
        ...


Say = Callable[[str, str], str]  # (Chinese, English) → the reader's language
Names = Callable[[int | None], str]  # a player id (or BOT) as the reader sees it


class TurnGame:
    """Seats, turns and the clock shared by every game, and what the registry asks of a game:
    its kind (the enum value storage keeps), its command, how it is rebuilt from its row, how it
    is started from the console, and its status lines."""

    kind: ClassVar[GameKind]
    title: ClassVar[str]  # its name, the same in every language: 联句, 飞花令, 对对联
    command: ClassVar[str]  # the console's /command (the Discord cog's group has the same name)
    usage: ClassVar[str]  # the console's one-line help for it
    takes_turns: ClassVar[bool] = True  # False: anyone may move until the deadline (对对联)
    shows_line: ClassVar[bool] = True  # False: the outcome's notes already quote the line

    def __init__(
        self,
        players: list[Player],
        bot_plays: bool,
        turn_seconds: int | None,
        current: int | None = None,
        deadline: datetime | None = None,
        starter_id: int | None = None,
    ):
        self.players = {player.id: player for player in players}
        order = [player.id for player in players] + ([BOT] if bot_plays else [])
        self.rotation = Rotation(order, current, turn_seconds, deadline)
        self.bot_plays = bot_plays
        self.starter_id = starter_id if starter_id is not None else (players[0].id if players else None)
        self.finished = False

    @property
    def rhyme_group(self) -> str | None:
        """What storage keeps in Game.rhyme_group; None for a game without a rhyme."""
        return None

    def begin(self, now: datetime) -> None:
        """The first player's turn starts now."""
        self.rotation.give_turn(self.rotation.order[0], now)

    def name(self, who: int | None) -> tuple[str, str]:
        """(Chinese, English) name of a player, the bot, or someone forgotten."""
        if who == BOT:
            return BOT_NAME_ZH, BOT_NAME_EN
        player = None if who is None else self.players.get(who)
        return (player.display_name, player.display_name) if player else (FORGOTTEN_ZH, FORGOTTEN_EN)

    def outcome(self, accepted: bool, **fields) -> Outcome:
        """An outcome that carries the current turn and clock."""
        rotation = self.rotation
        return Outcome(
            accepted=accepted,
            turn=None if self.finished else rotation.current,
            deadline=None if self.finished else rotation.deadline,
            reminder_at=None if self.finished else rotation.reminder_at,
            finished=self.finished,
            **fields,
        )

    def turn_note(self) -> Reason:
        zh, en = self.name(self.rotation.current)
        return note("turn", f"轮到{zh}。", f"It is {en}'s turn.")

    def join(self, player: Player) -> Outcome:
        if self.finished:
            return refusal(say("finished", "游戏已经结束。", "The game is over."))
        if player.id in self.players:
            return refusal(say("already_playing", "你已经在游戏里了。", "You are already playing."))
        if len(self.players) >= MAX_PLAYERS:
            return refusal(say("full", f"最多 {MAX_PLAYERS} 人。", f"At most {MAX_PLAYERS} players."))
        self.players[player.id] = player
        self.rotation.join(player.id)
        return self.outcome(
            True,
            by=player.id,
            notes=[note("joined", f"{player.display_name}加入了游戏。", f"{player.display_name} joined the game.")],
        )

    def check_turn(self, who: int) -> Outcome | None:
        """A refusal when `who` may not move now, else None."""
        if self.finished:
            return refusal(say("finished", "游戏已经结束。", "The game is over."))
        if who != BOT and who not in self.players:
            return refusal(say("not_playing", "你还没有加入游戏。", "You have not joined the game."))
        if who in self.rotation.out:
            return refusal(say("out", "你已出局。", "You are out."))
        if who != self.rotation.current:
            zh, en = self.name(self.rotation.current)
            return refusal(
                say("not_your_turn", f"现在轮到{zh}。", f"It is {en}'s turn, not yours."),
                turn=self.rotation.current,
                deadline=self.rotation.deadline,
            )
        return None

    # --- what each game defines -----------------------------------------------------------------

    @classmethod
    def restore(cls, row: Game, players: list[Player], resources: GameResources, **turns: Any) -> Self:
        """The game as stored: rules from the row's columns, turns from `turns` (current, deadline,
        starter_id); the service then replays the recorded moves."""
        raise NotImplementedError

    @classmethod
    def console_request(cls, words: list[str], options: dict[str, str]) -> StartRequest | Reason:
        """`/<command> start …` typed in the console, as a request (or why it is not one)."""
        raise NotImplementedError

    @classmethod
    def console_verb(cls, words: list[str]) -> tuple[str, list[str]]:
        """The console's verb (start, join, line, pass, status, stop, end, ask) and its words."""
        return (words[0], words[1:]) if words else ("status", [])

    def status_lines(self, say: Say, name: Names) -> list[str]:
        """What the game stands at, before whose turn it is."""
        raise NotImplementedError

    def replay(self, moves: list[Move]) -> None:
        raise NotImplementedError

    def poem_details(self) -> tuple[str, dict[str, object]]:
        """The form and prosody stored with the poem a game completes."""
        raise NotImplementedError

    def submit(self, player: Player, text: str, now: datetime) -> Outcome:
        raise NotImplementedError

    async def timeout(self, now: datetime, poet: LinePoet | None) -> Outcome:
        raise NotImplementedError

    async def bot_turn(self, now: datetime, poet: LinePoet | None) -> Outcome:
        raise NotImplementedError

    def pass_turn(self, player: Player, now: datetime) -> Outcome:
        return refusal(say("no_pass", "这个游戏不能过。", "This game has no passing."))

    @classmethod
    async def ask(cls, resources: GameResources, text: str, seed: int | None = None) -> Outcome:
        """One exchange outside any game (the bot's 下联 for a player's 上联)."""
        return refusal(say("no_ask", "这个游戏不回答单独的问题。", "This game answers nothing outside a game."))

    async def leave(self, player_id: int, now: datetime, poet: LinePoet | None) -> Outcome:
        """A player gone for good (/forgetme): a game of turns nobody else plays ends, and a turn they
        hold runs out now, by the game's own rule for a late turn (not at its deadline, which would
        hand what was left of it to the next player)."""
        if self.finished or player_id not in self.players:
            return refusal(say("not_playing", "你不在这局游戏里。", "You are not playing in this game."))
        if self.takes_turns and set(self.players) == {player_id}:
            self.finished = True
            gone = note("nobody_left", "玩家都已离开，游戏结束。", "Every player has left: the game is over.")
            return self.outcome(True, abandoned=True, notes=[gone])
        if self.rotation.current == player_id and self.rotation.deadline is not None:
            self.rotation.deadline = now
            return await self.timeout(now, poet)
        return self.outcome(False)  # nothing waits for them

    def stop(self, who: int, moderator: bool = False) -> Outcome:
        """The starter (or a moderator) ends the game early."""
        if self.finished:
            return refusal(say("finished", "游戏已经结束。", "The game is over."))
        if who != self.starter_id and not moderator:
            zh, en = self.name(self.starter_id)
            return refusal(
                say(
                    "not_starter",
                    f"只有发起人{zh}或管理员可以结束游戏。",
                    f"Only {en}, who started the game, or a moderator can stop it.",
                )
            )
        self.finished = True
        return self.outcome(
            True, by=who, abandoned=True, notes=[note("stopped", "游戏已结束。", "The game was stopped.")]
        )


Registry = dict[GameKind, type[TurnGame]]
GAMES: Registry = {}  # every game this version plays, by the kind storage keeps


G = TypeVar("G", bound=type[TurnGame])


def register(game: G) -> G:
    """Make a game playable: the service restores it, the console offers its command."""
    GAMES[game.kind] = game
    return game
