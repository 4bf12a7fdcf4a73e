"""飞花令: players take turns reciting real lines that contain the key character.

An answer is judged on its first clause (a player may type the whole couplet): it must contain
the key character and be a line of the corpus (engine.corpus.LineIndex). A line within edit
distance 2 of a real one is a near miss, told "没背熟" with the real line. A wrong answer or a
timeout puts the player out; the last one standing wins. Repeats and text that is not Chinese
verse are refused without penalty. The bot, when it plays, recites an unused corpus line; its
strength is how likely it is to remember one and how deep it searches.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from bot.games.common import (
    BOT,
    GIVE_UP_MARK,
    TIMEOUT_MARK,
    TURN_SECONDS,
    YES,
    GameResources,
    LinePoet,
    Lines,
    Move,
    Names,
    Opening,
    Outcome,
    Player,
    Say,
    TurnGame,
    as_recorded,
    cite_en,
    cite_zh,
    note,
    number_option,
    refusal,
    register,
    say,
)
from engine.corpus import LineHit
from engine.prosody import Reason, prepare_lines
from storage.errors import Conflict
from storage.models import Game, GameKind

NEAR_MISS_DISTANCE = 2
NEAR_MISS_POOL = 100_000  # corpus lines with the key character searched for a near miss
# Refusals that put a player out; anything else refused (repeats, no verse at all) costs nothing.
FATAL = frozenset({"no_key", "not_in_corpus", "near_miss", "timeout", "give_up"})
BOT_LINE_LENGTHS = (5, 7)  # the bot recites 诗 lines, not the odd lengths of 词
# A clause shorter than this is no line recited ("月" alone is the first line of a 一字至七字诗 in the
# corpus, "明月" of a 词): refused without penalty, like a repeat.
MIN_ANSWER_CHARS = 4


@dataclass(frozen=True)
class BotStrength:
    remembers: float  # the chance that it finds a line at all on its turn
    depth: int  # how many corpus lines with the key character it looks through


STRENGTHS = {
    "weak": BotStrength(0.6, 30),
    "medium": BotStrength(0.85, 300),
    "strong": BotStrength(1.0, 3000),
}


def key_character(text: str) -> tuple[str | None, Reason | None]:
    """The key character typed by a player (traditional made simplified), or why it is not one."""
    lines, problems = prepare_lines(text)
    if problems:
        return None, problems[0]
    if len(lines) != 1 or len(lines[0]) != 1:
        return None, say(
            "key_length",
            "飞花令的令字是一个汉字，例如「花」。",
            "The key of 飞花令 is one Chinese character, such as 花.",
        )
    return lines[0], None


@dataclass(frozen=True)
class FeihuaRules:
    keyword: str
    bot_plays: bool = True
    strength: str = "medium"
    turn_seconds: int | None = 60

    def __post_init__(self) -> None:
        if self.strength not in STRENGTHS:
            raise ValueError(f"the bot's strength is one of {', '.join(STRENGTHS)}, not {self.strength!r}")

    @property
    def label(self) -> str:
        """How the rules are stored in Game.form (the key character has its own column)."""
        return self.strength + (" bot" if self.bot_plays else "")

    @classmethod
    def from_label(cls, label: str, keyword: str, turn_seconds: int | None) -> FeihuaRules:
        strength, *bot = label.split()
        return cls(keyword, bot == ["bot"], strength, turn_seconds)


NO_CORPUS = say(
    "no_corpus", "诗库还没有建好，不能玩飞花令。", "The corpus is not built yet, so 飞花令 cannot be played."
)


@dataclass(frozen=True)
class FeihuaStart:
    """A 飞花令 on `key`; the starter answers first, then whoever joined, the bot last."""

    key: str
    bot_plays: bool = True
    strength: str = "medium"
    turn_seconds: int | None = 60

    async def open(self, starter: Player, now: datetime, resources: GameResources) -> Opening | Outcome:
        keyword, problem = key_character(self.key)
        if keyword is None:
            return refusal(problem or NO_CORPUS)  # key_character gives a problem whenever no key
        if resources.lines is None:
            return refusal(NO_CORPUS)
        rules = FeihuaRules(keyword, self.bot_plays, self.strength, self.turn_seconds)
        game = FeihuaGame(rules, [starter], resources.lines, starter_id=starter.id)
        game.begin(now)

        def announce() -> Outcome:
            return game.outcome(
                True,
                by=starter.id,
                notes=[
                    note("started", f"飞花令开始，令字「{keyword}」。", f"飞花令 on 「{keyword}」 begins."),
                    game.turn_note(),
                ],
            )

        return Opening(game, announce, form=rules.label, keyword=keyword)


@register
class FeihuaGame(TurnGame):
    kind = GameKind.FEIHUA
    title = "飞花令"
    command = "feihua"
    usage = "/feihua start 字|join|line|status|stop"

    def __init__(self, rules: FeihuaRules, players: list[Player], lines: Lines, **turns: Any):
        super().__init__(players, rules.bot_plays, rules.turn_seconds, **turns)
        self.rules = rules
        self.corpus = lines
        self.used: list[str] = []
        self.winner: int | None = None

    @classmethod
    def restore(cls, row: Game, players: list[Player], resources: GameResources, **turns: Any) -> FeihuaGame:
        if resources.lines is None:
            raise Conflict("飞花令 needs the corpus line index: run `lianju corpus build`")
        rules = FeihuaRules.from_label(row.form or "", row.keyword or "", row.turn_seconds)
        return cls(rules, players, resources.lines, **turns)

    @classmethod
    def console_request(cls, words: list[str], options: dict[str, str]) -> FeihuaStart | Reason:
        """`/feihua start 月 [strength=weak|medium|strong] [bot=no] [turn=60]`."""
        strength = options.get("strength", "medium")
        if strength not in STRENGTHS:
            return say("bad_strength", "strength=" + "|".join(STRENGTHS), "strength=" + "|".join(STRENGTHS))
        turn = number_option(options, "turn", 60, TURN_SECONDS)
        if isinstance(turn, Reason):
            return turn
        return FeihuaStart(" ".join(words), options.get("bot", "yes").lower() in YES, strength, turn)

    def status_lines(self, say: Say, name: Names) -> list[str]:
        out = [name(who) for who in self.rotation.order if who in self.rotation.out]
        return [
            say(
                f"飞花令「{self.rules.keyword}」 · 已接 {len(self.used)} 句 · 出局：{'、'.join(out) or '—'}",
                f"飞花令 on 「{self.rules.keyword}」 · lines so far: {len(self.used)} · out: {', '.join(out) or '—'}",
            )
        ]

    def replay(self, moves: list[Move]) -> None:
        for move in moves:
            if move.accepted:
                self.used.append(move.line)
            elif move.code in FATAL and move.author is not None:
                self.rotation.out.add(move.author)
        self._decide()

    def _decide(self) -> bool:
        """End the game when one is left standing of several, or nobody is; True if it ended."""
        standing = self.rotation.standing
        if len(standing) == 1 and len(self.rotation.order) > 1:
            self.winner = standing[0]
        self.finished = self.winner is not None or not standing
        return self.finished

    # --- the judge ---------------------------------------------------------------------------

    def judge(self, text: str) -> tuple[str | None, LineHit | None, list[Reason]]:
        """(the first clause, where it comes from) when accepted; else (the clause or None, the real
        line of a near miss or None, why not)."""
        lines, problems = prepare_lines(text)
        if problems:
            return None, None, problems
        line, key = lines[0], self.rules.keyword
        if len(line) < MIN_ANSWER_CHARS:
            return (
                line,
                None,
                [
                    say(
                        "too_short",
                        f"「{line}」太短：请背出一整句诗词（至少 {MIN_ANSWER_CHARS} 个字）。",
                        f"「{line}」 is too short: recite a whole line ({MIN_ANSWER_CHARS} characters or more).",
                    )
                ],
            )
        if key not in line:
            return (
                line,
                None,
                [say("no_key", f"「{line}」里没有令字「{key}」。", f"「{line}」 does not contain 「{key}」.")],
            )
        if line in self.used:
            return line, None, [say("repeat", f"「{line}」已经有人说过了。", f"「{line}」 has been said already.")]
        hits = self.corpus.find(line)
        if hits:
            return line, hits[0], []
        near = self._near_miss(line)
        if near is not None:
            return (
                line,
                near,
                [
                    say(
                        "near_miss",
                        f"没背熟：原句是「{near.text}」（{cite_zh(near)}）。",
                        f"Not quite remembered: the line is 「{near.text}」 ({cite_en(near)}).",
                    )
                ],
            )
        return (
            line,
            None,
            [
                say(
                    "not_in_corpus",
                    f"诗库里没有「{line}」这一句。",
                    f"「{line}」 is not a line of any poem in the corpus.",
                )
            ],
        )

    def _near_miss(self, line: str) -> LineHit | None:
        same_length = [
            hit for hit in self.corpus.containing(self.rules.keyword, NEAR_MISS_POOL) if len(hit.text) == len(line)
        ]
        best = process.extractOne(
            line, [hit.text for hit in same_length], scorer=Levenshtein.distance, score_cutoff=NEAR_MISS_DISTANCE
        )
        return same_length[best[2]] if best else None

    # --- moves -------------------------------------------------------------------------------

    def _accepted(self, line: str, hit: LineHit, who: int, now: datetime) -> Outcome:
        self.used.append(line)
        self.rotation.advance(now)
        cited = note("citation", f"出自{cite_zh(hit)}。", f"From {cite_en(hit)}.")
        return self.outcome(
            True, line=line, by=who, citation=hit, moves=[Move.played(line, who)], notes=[cited, self.turn_note()]
        )

    def _eliminated(
        self, who: int, move: Move, now: datetime, reasons: list[Reason], citation: LineHit | None = None
    ) -> Outcome:
        self.rotation.out.add(who)
        zh, en = self.name(who)
        notes = [note("out", f"{zh}出局。", f"{en} is out.")]
        if self._decide():
            if self.winner is not None:
                winner_zh, winner_en = self.name(self.winner)
                notes.append(note("winner", f"{winner_zh}胜出！", f"{winner_en} wins!"))
            else:
                notes.append(note("no_winner", "无人胜出。", "Nobody wins."))
        else:
            self.rotation.advance(now)
            notes.append(self.turn_note())
        return self.outcome(
            False, by=who, reasons=reasons, notes=notes, moves=[move], citation=citation, winner=self.winner
        )

    def submit(self, player: Player, text: str, now: datetime) -> Outcome:
        refused = self.check_turn(player.id)
        if refused:
            return refused
        line, hit, reasons = self.judge(text)
        if not reasons:
            assert line is not None and hit is not None, "judge accepts only a clause it found in the corpus"
            return self._accepted(line, hit, player.id, now)
        reason = reasons[0]
        recorded = as_recorded(line or text)
        if reason.code not in FATAL:
            moves = [Move.refused(recorded, player.id, reason)] if recorded else []
            return self.outcome(False, by=player.id, reasons=reasons, moves=moves)
        # The fatal refusals (no 令字, not in the corpus, a near miss) all name the clause, so there is one to record.
        assert recorded is not None
        return self._eliminated(player.id, Move.refused(recorded, player.id, reason), now, reasons, citation=hit)

    async def timeout(self, now: datetime, poet: LinePoet | None = None) -> Outcome:
        if self.finished or not self.rotation.timed_out(now):
            return self.outcome(False, reasons=[say("not_due", "还没到时间。", "The turn has not timed out.")])
        who = self.rotation.current
        assert who is not None, "only a turn someone holds has a deadline"
        zh, en = self.name(who)
        late = say("timeout", f"{zh}超时。", f"{en} ran out of time.")
        move = Move(TIMEOUT_MARK, None if who == BOT else who, who == BOT, False, "timeout", "超时")
        return self._eliminated(who, move, now, [late])

    async def bot_turn(self, now: datetime, poet: LinePoet | None = None, seed: int | None = None) -> Outcome:
        """The bot recites from the corpus (the poet is not asked: 飞花令 wants real lines)."""
        refused = self.check_turn(BOT)
        if refused:
            return refused
        rng = random.Random(seed)
        strength = STRENGTHS[self.rules.strength]
        if rng.random() < strength.remembers:
            fresh = [
                hit
                for hit in self.corpus.containing(self.rules.keyword, strength.depth)
                if hit.text not in self.used and len(hit.text) in BOT_LINE_LENGTHS
            ]
            if fresh:
                hit = rng.choice(fresh)
                return self._accepted(hit.text, hit, BOT, now)
        zh, en = self.name(BOT)
        gave_up = say("give_up", f"{zh}想不起来了，认输。", f"{en} cannot remember a line and gives up.")
        return self._eliminated(BOT, Move(GIVE_UP_MARK, None, True, False, "give_up", "认输"), now, [gave_up])
