"""对对联: the bot gives a 上联 and everyone answers until the time is up, or the bot answers a
player's 上联.

An answer is scored by engine.prosody.check_couplet: same length, 上联仄收 and 下联平收, opposite
tones at the rhythm nodes, no character repeated at the same position. The score (0-100) and
the reasons are shown at once; when the time is up the best answer wins (the earliest of equals),
and a 上联 taken from a real 律诗 reveals its original 下联.

When time is up the answers are ranked by the judge's points plus up to LIKELIHOOD_POINTS more
for how natural the pair reads to the model (Poet.couplet_likelihood), so of two answers the rules
cannot tell apart, the better Chinese wins.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.games.common import (
    BOT,
    NO_POET,
    GameResources,
    LinePoet,
    Lines,
    Move,
    Names,
    Opening,
    Outcome,
    Player,
    Say,
    StartRequest,
    TurnGame,
    as_recorded,
    cite_en,
    cite_zh,
    note,
    refusal,
    register,
    say,
)
from engine.corpus import LineHit
from engine.poet import PoetError
from engine.prosody import PING, ZE, CoupletReport, Reason, char_tone, check_couplet, prepare_lines
from storage.models import Game, GameKind

FIRST_LINE_CHARS = range(3, 12)  # what Poet.match_couplet accepts
PICK_TRIES = 20
# Weights of the score: tone opposition at the nodes, the two endings, no shared characters.
WEIGHTS = {"opposition": 50, "second_end": 20, "first_end": 15, "same_char": 15}
# The model's mean log-likelihood per token maps linearly from FLUENCY_RANGE onto 0..LIKELIHOOD_POINTS.
LIKELIHOOD_POINTS = 20
FLUENCY_RANGE = (-8.0, -2.0)


def fluency_points(log_likelihood: float) -> float:
    low, high = FLUENCY_RANGE
    return LIKELIHOOD_POINTS * min(1.0, max(0.0, (log_likelihood - low) / (high - low)))


def score(report: CoupletReport) -> int:
    """0-100 from the judge's report (a perfect pair scores 100)."""
    failed = {reason.code for reason in report.reasons}
    points = WEIGHTS["opposition"] * report.tone_score
    points += sum(weight for code, weight in WEIGHTS.items() if code != "opposition" and code not in failed)
    return round(points)


def judged(first: str, second: str) -> tuple[int, list[Reason]]:
    report = check_couplet(first, second)
    return score(report), report.reasons


def first_line(text: str) -> tuple[str | None, Reason | None]:
    """A player's 上联 as the poet takes it, or why it is not one."""
    lines, problems = prepare_lines(text)
    if problems:
        return None, problems[0]
    line = "".join(lines)  # 上联 with a pause in it (，) is still one line
    if len(line) not in FIRST_LINE_CHARS:
        return None, say(
            "first_length",
            f"上联须为 {FIRST_LINE_CHARS.start} 到 {FIRST_LINE_CHARS.stop - 1} 个字。",
            f"A first line has {FIRST_LINE_CHARS.start} to {FIRST_LINE_CHARS.stop - 1} characters.",
        )
    return line, None


async def answer(poet: LinePoet | None, text: str, seed: int | None = None) -> Outcome:
    """The bot's 下联 for a player's 上联, with its score and the judge's reasons."""
    first, problem = first_line(text)
    if first is None or poet is None:
        return refusal(problem or NO_POET)
    try:
        second = await poet.match_couplet(first, seed=seed)
    except PoetError as error:
        return refusal(say(error.code, error.zh, error.en))
    points, reasons = judged(first, second)
    return Outcome(
        True,
        line=second,
        by=BOT,
        score=points,
        reasons=reasons,
        notes=[
            note(
                "couplet",
                f"上联：{first}\n下联：{second}（{points} 分）",
                f"First line: {first}\nSecond line: {second} ({points} points)",
            )
        ],
    )


def ends_oblique(line: str) -> bool:
    return char_tone(line[-1]).can_be(ZE) and not char_tone(line[-1]).is_only(PING)


class CoupletBook:
    """Real 律诗 couplets from the corpus's couplets.jsonl, picked at random without reading it all."""

    def __init__(self, path: Path):
        if not path.is_file():
            raise FileNotFoundError(f"no couplets at {path}: run `lianju corpus build` first")
        self.path = path
        self.size = path.stat().st_size

    def pick(self, rng: random.Random) -> tuple[str, str]:
        """A (上联, 下联) whose 上联 ends 仄, as a 上联 should."""
        with self.path.open("rb") as book:
            for _ in range(PICK_TRIES):
                book.seek(rng.randrange(self.size))
                book.readline()  # the rest of the record the offset fell into
                raw = book.readline()
                if not raw:  # the offset fell into the last record: wrap round to the first
                    book.seek(0)
                    raw = book.readline()
                record = json.loads(raw)
                if ends_oblique(record["first"]):
                    return record["first"], record["second"]
        return record["first"], record["second"]


def source_of(line: str, lines: Lines | None) -> LineHit | None:
    """Where a corpus 上联 comes from."""
    hits = lines.find(line) if lines is not None else []
    return hits[0] if hits else None


@dataclass(frozen=True)
class DuilianStart:
    """The bot gives a 上联 (a real 律诗 line when the corpus is there, else its own) and
    everyone may answer until the time is up."""

    turn_seconds: int | None = 120
    seed: int | None = None

    async def open(self, starter: Player, now: datetime, resources: GameResources) -> Opening | Outcome:
        rng = random.Random(self.seed)
        original = source = None
        if resources.couplets is not None:
            first, original = resources.couplets.pick(rng)
            source = source_of(first, resources.lines)
        elif resources.poet is None:
            return refusal(NO_POET)
        else:
            try:
                first = await generated_first_line(resources.poet, rng)
            except PoetError as error:
                return refusal(say(error.code, error.zh, error.en))
        game = DuilianGame(first, [starter], self.turn_seconds, original=original, source=source, starter_id=starter.id)
        game.begin(now)
        return Opening(game, game.opening, form="corpus" if original else "poet", keyword=original)


@register
class DuilianGame(TurnGame):
    """One 上联, any number of answers from anyone until the deadline."""

    kind = GameKind.DUILIAN
    title = "对对联"
    command = "duilian"
    usage = "/duilian [上联]|answer 下联|end|status|stop"
    takes_turns = False
    shows_line = False

    def __init__(
        self,
        first: str,
        players: list[Player],
        turn_seconds: int | None,
        original: str | None = None,
        source: LineHit | None = None,
        **turns: Any,
    ):
        super().__init__(players, False, turn_seconds, **turns)
        self.first = first
        self.original = original  # the corpus couplet's own 下联, revealed at the end
        self.source = source
        self.answers: list[tuple[str, int | None, int]] = []  # (下联, author, score) in order

    @classmethod
    def restore(cls, row: Game, players: list[Player], resources: GameResources, **turns: Any) -> DuilianGame:
        first = row.turns[0].line
        return cls(
            first,
            players,
            row.turn_seconds,
            original=row.keyword,
            source=source_of(first, resources.lines) if row.keyword else None,
            **turns,
        )

    @classmethod
    def console_request(cls, words: list[str], options: dict[str, str]) -> StartRequest | Reason:
        return DuilianStart()

    @classmethod
    def console_verb(cls, words: list[str]) -> tuple[str, list[str]]:
        """`/duilian` starts a round, `/duilian answer 下联` answers it, `/duilian end` ends it (the
        console has no clock), `/duilian 上联` asks the bot for its 下联."""
        if not words:
            return "start", []
        verbs = {"answer": "line", "end": "end", "status": "status", "stop": "stop"}
        return (verbs[words[0]], words[1:]) if words[0] in verbs else ("ask", words)

    @classmethod
    async def ask(cls, resources: GameResources, text: str, seed: int | None = None) -> Outcome:
        return await answer(resources.poet, text, seed)

    def status_lines(self, say: Say, name: Names) -> list[str]:
        return [
            say(
                f"上联：{self.first} · 已有 {len(self.answers)} 个下联",
                f"First line: {self.first} · answers so far: {len(self.answers)}",
            )
        ]

    def outcome(self, accepted: bool, **fields: Any) -> Outcome:
        outcome = super().outcome(accepted, **fields)
        outcome.turn = None  # anyone may answer: nobody has the turn
        return outcome

    def replay(self, moves: list[Move]) -> None:
        """The first recorded move is the 上联; accepted ones after it are answers."""
        for move in moves[1:]:
            if move.accepted:
                self.answers.append((move.line, move.author, judged(self.first, move.line)[0]))

    def opening(self) -> Outcome:
        cited = f"（{cite_zh(self.source)}）" if self.source else ""
        cited_en = f" ({cite_en(self.source)})" if self.source else ""
        return self.outcome(
            True,
            line=self.first,
            by=BOT,
            citation=self.source,
            moves=[Move.played(self.first, BOT)],
            notes=[
                note(
                    "first_line",
                    f"上联：{self.first}{cited}　请对下联。",
                    f"First line: {self.first}{cited_en}. Answer with the second line.",
                )
            ],
        )

    def submit(self, player: Player, text: str, now: datetime) -> Outcome:
        if self.finished:
            return refusal(say("finished", "这一轮已经结束。", "This round is over."))
        self.players.setdefault(player.id, player)  # anyone in the channel may answer
        lines, problems = prepare_lines(text)
        line = "".join(lines)
        if not problems and len(line) != len(self.first):
            problems = [
                say(
                    "length",
                    f"上联 {len(self.first)} 字，下联也应是 {len(self.first)} 字。",
                    f"The first line has {len(self.first)} characters; the answer needs as many.",
                )
            ]
        if not problems and any(line == earlier for earlier, _, _ in self.answers):
            problems = [say("repeat", f"「{line}」已经有人对过了。", f"「{line}」 has been given already.")]
        if problems:
            recorded = as_recorded(text)
            moves = [Move.refused(recorded, player.id, problems[0])] if recorded else []
            return self.outcome(False, by=player.id, reasons=problems, moves=moves)
        points, reasons = judged(self.first, line)
        self.answers.append((line, player.id, points))
        return self.outcome(
            True,
            line=line,
            by=player.id,
            score=points,
            reasons=reasons,
            moves=[Move.played(line, player.id)],
            notes=[note("scored", f"{line}：{points} 分。", f"{line}: {points} points.")],
        )

    async def best(self, poet: LinePoet | None) -> tuple[str, int | None, int] | None:
        """The winning answer: the judge's points, plus the model's reading when the poet is there
        (the earliest of equals)."""
        totals = []
        for line, _, points in self.answers:
            fluency = fluency_points(await poet.couplet_likelihood(self.first, line)) if poet else 0.0
            totals.append(points + fluency)
        return self.answers[totals.index(max(totals))] if totals else None

    async def timeout(self, now: datetime, poet: LinePoet | None = None) -> Outcome:
        """Time is up: the best answer wins; a corpus couplet shows its own 下联."""
        if self.finished or not self.rotation.timed_out(now):
            return self.outcome(False, reasons=[say("not_due", "还没到时间。", "The round has not timed out.")])
        self.finished = True
        best = await self.best(poet)
        if best is None:
            notes = [note("no_answer", "时间到，无人应对。", "Time is up, and nobody answered.")]
        else:
            line, author, points = best
            zh, en = self.name(author)
            notes = [
                note(
                    "best",
                    f"时间到！最佳下联：{line}（{zh}，{points} 分）。",
                    f"Time is up! The best answer: {line} ({en}, {points} points).",
                )
            ]
        if self.original:
            notes.append(
                note(
                    "original",
                    f"原对：{self.first}，{self.original}。",
                    f"The original couplet: {self.first}, {self.original}.",
                )
            )
        return self.outcome(
            True,
            notes=notes,
            winner=best[1] if best else None,
            line=best[0] if best else None,
            score=best[2] if best else None,
        )

    async def bot_turn(self, now: datetime, poet: LinePoet | None = None) -> Outcome:
        return refusal(say("no_bot_turn", "对对联里机器人不轮流。", "The bot takes no turns in 对对联."))


async def generated_first_line(poet: LinePoet, rng: random.Random) -> str:
    """A 上联 the poet writes: the third line of a 律诗 it begins, which every pattern ends 仄."""
    form = rng.choice(["wulv", "qilv"])
    lines: list[str] = []
    for _ in range(3):
        lines.append(await poet.continue_line(lines, form, seed=rng.randrange(2**31)))
    return lines[2]
