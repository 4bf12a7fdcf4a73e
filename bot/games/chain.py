"""联句: players take turns adding lines to one poem until it is complete.

The judge reuses engine.prosody: the text is normalised by `prepare_lines` (one line of Han
characters, traditional input made simplified); a line must have the form's length and must not
repeat an earlier one; on a rhyme slot its last character must be 平 and rhyme in the poem's
group, which the first rhyme fixes. Under 严 the line must also fit one of the form's 平仄
patterns that every earlier line fits (so 粘对 with the line before is kept). Three refused
lines in one turn pass it; on timeout the bot writes the line when it plays, else the turn passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.games.common import (
    BOT,
    NO_POET,
    PASS_MARK,
    TIMEOUT_MARK,
    TURN_SECONDS,
    YES,
    GameResources,
    LinePoet,
    Move,
    Names,
    Opening,
    Outcome,
    Player,
    Say,
    TurnGame,
    as_recorded,
    note,
    number_option,
    refusal,
    register,
    say,
)
from engine.forms import JINTI_FORMS, OPEN_LINES, Form, open_form, parse_form, stored_form
from engine.poet import PoetError
from engine.prosody import (
    CharTone,
    Reason,
    RhymeGroup,
    TonePattern,
    char_tone,
    level_groups,
    prepare_lines,
    sticking_and_pairing,
    tone_patterns,
)
from storage.models import Game, GameKind

REJECTIONS_PER_TURN = 3
BOT_ATTEMPTS = 3  # the bot's lines are judged too; it tries again when one is refused
STRICT, LENIENT = "严", "宽"
STRICT_WORDS = (STRICT, "嚴", "strict")  # what the console accepts for 严
BAD_OPEN_LINES = Reason(
    "open_lines",
    f"开放联句的句数须为 {OPEN_LINES.start} 到 {OPEN_LINES.stop - 1} 之间的偶数。",
    f"An open chain has an even number of lines from {OPEN_LINES.start} to {OPEN_LINES.stop - 1}.",
)
BAD_FORM = Reason(
    "bad_form",
    "体裁须为 五绝 七绝 五律 七律，或 open5 / open7（开放联句，lines=句数）。",
    "The form is 五绝, 七绝, 五律, 七律 (wujue qijue wulv qilv), or open5 / open7 with lines=N.",
)


def chain_form(name: str) -> Form:
    """A 近体 form by any of its names, or an open chain by its id (open7x12)."""
    return stored_form(name.strip()) or parse_form(name)


@dataclass(frozen=True)
class ChainRules:
    form: Form
    strict: bool = False  # 严: 平仄 and 粘对 too; 宽: shape and rhyme
    bot_plays: bool = True
    turn_seconds: int | None = 120

    @property
    def label(self) -> str:
        """How the rules are stored in Game.form: 'qijue 严 bot'."""
        return " ".join([self.form.name, STRICT if self.strict else LENIENT] + (["bot"] if self.bot_plays else []))

    @classmethod
    def from_label(cls, label: str, turn_seconds: int | None) -> ChainRules:
        name, strictness, *bot = label.split()
        return cls(chain_form(name), strictness == STRICT, bot == ["bot"], turn_seconds)

    @property
    def poet_form(self) -> str:
        """The form the poet writes in: the form itself, or for an open chain the 律诗 of its width,
        continued from a window of recent lines (see `ChainGame.poet_window`)."""
        if self.form.name in JINTI_FORMS:
            return self.form.name
        return "wulv" if self.form.chars_per_line == 5 else "qilv"


@dataclass(frozen=True)
class ChainStart:
    """A 联句 to start: the starter's opening line, or the bot's (on the theme, when given)."""

    rules: ChainRules
    opening: str | None = None
    theme: str | None = None

    async def open(self, starter: Player, now: datetime, resources: GameResources) -> Opening:
        game = ChainGame(self.rules, [starter], starter_id=starter.id)
        game.begin(now)

        async def first_line() -> Outcome:
            if self.opening:
                return game.submit(starter, self.opening, now)
            return await game.open(now, resources.poet, self.theme)

        return Opening(game, first_line, form=self.rules.label)


@register
class ChainGame(TurnGame):
    kind = GameKind.CHAIN
    title = "联句"
    command = "chain"
    usage = "/chain start|join|line|pass|status|stop"

    def __init__(self, rules: ChainRules, players: list[Player], **turns: Any):
        super().__init__(players, rules.bot_plays, rules.turn_seconds, **turns)
        self.rules = rules
        self.lines: list[tuple[str, int | None]] = []  # (line, author: player id, BOT, or None: forgotten)
        self.rhyme_groups: tuple[RhymeGroup, ...] = ()  # narrowed by every rhyme; empty before the first
        self.patterns: tuple[TonePattern, ...] = tone_patterns(rules.form)  # those every line so far fits
        self.rejections = 0  # in the current turn

    # --- what the registry asks ----------------------------------------------------------------

    @classmethod
    def restore(cls, row: Game, players: list[Player], resources: GameResources, **turns: Any) -> ChainGame:
        return cls(ChainRules.from_label(row.form or "", row.turn_seconds), players, **turns)

    @classmethod
    def console_request(cls, words: list[str], options: dict[str, str]) -> ChainStart | Reason:
        """`/chain start 七绝 [严] [opening=…] [theme=…] [bot=no] [turn=120]`, `/chain start open7 lines=12`."""
        name = words[0] if words else "qijue"
        turn = number_option(options, "turn", 120, TURN_SECONDS)
        if isinstance(turn, Reason):
            return turn
        if name in ("open5", "open7"):
            lines = number_option(options, "lines", 8, OPEN_LINES)
            if isinstance(lines, Reason):
                return BAD_OPEN_LINES
            shape = open_form(int(name[-1]), lines)
        else:
            try:
                shape = chain_form(name)
            except ValueError:
                return BAD_FORM
        rules = ChainRules(
            shape, any(word in STRICT_WORDS for word in words[1:]), options.get("bot", "yes").lower() in YES, turn
        )
        return ChainStart(rules, opening=options.get("opening"), theme=options.get("theme"))

    def status_lines(self, say: Say, name: Names) -> list[str]:
        rules = self.rules
        strictness = say("严", "strict") if rules.strict else say("宽", "lenient")
        return [
            f"{say(rules.form.label_zh, rules.form.label_en)} · {strictness} · "
            f"{say('韵部', 'rhyme group')} {self.rhyme_group or '—'}",
            *(f"{number}. {say(line, line)}　—— {name(author)}" for number, (line, author) in enumerate(self.lines, 1)),
        ]

    def poem_details(self) -> tuple[str, dict[str, object]]:
        return self.rules.form.name, {"rhyme_group": self.rhyme_group, "strict": self.rules.strict}

    # --- rebuilding after a restart ----------------------------------------------------------

    def replay(self, moves: list[Move]) -> None:
        """Bring the poem and the current turn's refusals back from the recorded moves; the turn
        order and clock come from storage (the service passes them in)."""
        for move in moves:
            if move.accepted:
                self._add_line(move.line, move.author)
                self.rejections = 0
            elif move.code in ("pass", "timeout"):
                self.rejections = 0
            else:
                self.rejections = (self.rejections + 1) % REJECTIONS_PER_TURN
        self.finished = len(self.lines) == self.rules.form.line_count

    # --- the judge ---------------------------------------------------------------------------

    @property
    def rhyme_group(self) -> str | None:
        return self.rhyme_groups[0].label if self.rhyme_groups else None

    def judge(self, text: str) -> tuple[str | None, list[Reason]]:
        """The line as it would enter the poem, or None and why not."""
        lines, problems = prepare_lines(text)
        if problems:
            return None, problems
        form, index = self.rules.form, len(self.lines)
        if len(lines) > 1:
            return None, [say("several_lines", "一次只写一句。", "One line at a time, please.")]
        line = lines[0]
        if len(line) != form.chars_per_line:
            return None, [
                say(
                    "length",
                    f"这一句应为 {form.chars_per_line} 个字，你写了 {len(line)} 个。",
                    f"This line needs {form.chars_per_line} characters; yours has {len(line)}.",
                )
            ]
        if any(line == earlier for earlier, _ in self.lines):
            return None, [say("repeat", f"「{line}」前面已经有了。", f"「{line}」 is already in the poem.")]
        reasons = self._rhyme_reasons(line, index)
        if self.rules.strict and not reasons:
            reasons = self._tone_reasons(line, index)
        return (None, reasons) if reasons else (line, [])

    def _rhyme_reasons(self, line: str, index: int) -> list[Reason]:
        if index not in self.rules.form.rhyme_lines:
            return []
        last = line[-1]
        groups = level_groups(last)
        if not groups:
            return [
                say(
                    "rhyme_tone",
                    f"第{index + 1}句要押韵，韵脚须为平声字，「{last}」不是。",
                    f"Line {index + 1} rhymes: it must end on a 平 character, and 「{last}」 is not one.",
                )
            ]
        if self.rhyme_groups and not set(groups) & set(self.rhyme_groups):
            where = "、".join(group.label for group in groups)
            return [
                say(
                    "rhyme",
                    f"韵脚「{last}」属{where}，不押{self.rhyme_group}。",
                    f"「{last}」 rhymes in {where}, not in {self.rhyme_group}.",
                )
            ]
        return []

    def _fits(self, pattern: TonePattern, index: int, line: str) -> bool:
        free = self.rules.form.free_positions
        return all(
            char_tone(char).can_be(pattern.lines[index][pos]) for pos, char in enumerate(line) if pos not in free
        )

    def _tone_reasons(self, line: str, index: int) -> list[Reason]:
        if any(self._fits(pattern, index, line) for pattern in self.patterns):
            return []
        tones: list[list[CharTone]] = [[char_tone(char) for char in text] for text, _ in self.lines]
        tones.append([char_tone(char) for char in line])
        reasons = [reason for reason in sticking_and_pairing(tones) if reason.line == index + 1]
        free = self.rules.form.free_positions

        def misses(pattern: TonePattern) -> list[int]:
            return [
                pos
                for pos, char in enumerate(line)
                if pos not in free and not char_tone(char).can_be(pattern.lines[index][pos])
            ]

        best = min(self.patterns, key=lambda pattern: len(misses(pattern)))
        for pos in misses(best):
            want = best.lines[index][pos]
            reasons.append(
                say(
                    "tone",
                    f"第{pos + 1}字「{line[pos]}」应为{want}声（{best.lines[index]}）。",
                    f"Character {pos + 1} 「{line[pos]}」 should be {want} ({best.lines[index]}).",
                )
            )
        return reasons

    def _add_line(self, line: str, author: int | None) -> None:
        index = len(self.lines)
        if index in self.rules.form.rhyme_lines:
            groups = level_groups(line[-1])
            if self.rhyme_groups:
                self.rhyme_groups = tuple(group for group in self.rhyme_groups if group in groups)
            else:
                # The first rhyme fixes the group; a 首句入韵 opening decides between readings.
                opening = level_groups(self.lines[0][0][-1]) if self.lines else ()
                self.rhyme_groups = tuple(group for group in groups if group in opening) or groups
        fitting = tuple(pattern for pattern in self.patterns if self._fits(pattern, index, line))
        self.patterns = fitting or self.patterns  # 宽 lines may fit none; only 严 judges by them
        self.lines.append((line, author))

    # --- moves -------------------------------------------------------------------------------

    def _accepted(self, line: str, who: int, now: datetime) -> Outcome:
        first_rhyme = not self.rhyme_groups
        self._add_line(line, who)
        self.rejections = 0
        notes = []
        if first_rhyme and self.rhyme_groups:
            notes.append(
                note("rhyme_fixed", f"韵部定为{self.rhyme_group}。", f"The poem rhymes in {self.rhyme_group}.")
            )
        if len(self.lines) == self.rules.form.line_count:
            self.finished = True
            notes.append(note("complete", "诗成！", "The poem is complete!"))
            return self.outcome(
                True, line=line, by=who, moves=[Move.played(line, who)], notes=notes, poem=list(self.lines)
            )
        self.rotation.advance(now)
        notes.append(self.turn_note())
        return self.outcome(True, line=line, by=who, moves=[Move.played(line, who)], notes=notes)

    def _passed(self, now: datetime, notes: list[Reason], moves: list[Move]) -> Outcome:
        self.rejections = 0
        self.rotation.advance(now)
        return self.outcome(False, notes=[*notes, self.turn_note()], moves=moves)

    def submit(self, player: Player, text: str, now: datetime) -> Outcome:
        """A player's line for their turn."""
        refused = self.check_turn(player.id)
        if refused:
            return refused
        line, reasons = self.judge(text)
        if line is not None:
            return self._accepted(line, player.id, now)
        recorded = as_recorded(text)
        if recorded is None:  # nothing to record; costs nothing but time
            return self.outcome(False, reasons=reasons, by=player.id)
        self.rejections += 1
        moves = [Move.refused(recorded, player.id, reasons[0])]
        if self.rejections < REJECTIONS_PER_TURN:
            left = REJECTIONS_PER_TURN - self.rejections
            return self.outcome(
                False,
                reasons=reasons,
                by=player.id,
                moves=moves,
                notes=[note("tries_left", f"本轮还可再试 {left} 次。", f"Tries left this turn: {left}.")],
            )
        outcome = self._passed(
            now,
            [
                note(
                    "passed_after_rejections",
                    f"{REJECTIONS_PER_TURN} 次不合，轮空。",
                    f"{REJECTIONS_PER_TURN} lines refused: the turn passes.",
                )
            ],
            moves,
        )
        outcome.reasons, outcome.by = reasons, player.id
        return outcome

    def pass_turn(self, player: Player, now: datetime) -> Outcome:
        refused = self.check_turn(player.id)
        if refused:
            return refused
        zh, en = self.name(player.id)
        move = Move(PASS_MARK, player.id, False, False, "pass", "主动过")
        return self._passed(now, [note("passed", f"{zh}过。", f"{en} passes.")], [move])

    async def timeout(self, now: datetime, poet: LinePoet | None) -> Outcome:
        """The clock ran out: the bot writes the line when it plays, else the turn passes.
        Early or stale calls (the turn moved on) change nothing."""
        if self.finished or not self.rotation.timed_out(now):
            return self.outcome(False, reasons=[say("not_due", "还没到时间。", "The turn has not timed out.")])
        who = self.rotation.current
        zh, en = self.name(who)
        late = note("timeout", f"{zh}超时。", f"{en} ran out of time.")
        if self.bot_plays and who != BOT:
            line_or_problem = await self._bot_line(now, poet)
            if isinstance(line_or_problem, str):
                outcome = self._accepted(line_or_problem, BOT, now)
                outcome.notes.insert(0, late)
                return outcome
        move = Move(TIMEOUT_MARK, None if who == BOT else who, who == BOT, False, "timeout", "超时")
        return self._passed(now, [late], [move])

    async def bot_turn(self, now: datetime, poet: LinePoet | None) -> Outcome:
        """The bot's own turn."""
        refused = self.check_turn(BOT)
        if refused:
            return refused
        line_or_problem = await self._bot_line(now, poet)
        if isinstance(line_or_problem, str):
            return self._accepted(line_or_problem, BOT, now)
        move = Move(PASS_MARK, None, True, False, "pass", line_or_problem.zh)
        return self._passed(now, [line_or_problem], [move])

    async def open(self, now: datetime, poet: LinePoet | None, theme: str | None = None) -> Outcome:
        """The bot writes the first line (on the theme's first character, when it can); then the
        first player's turn begins."""
        line = await self._bot_line(now, poet, theme)
        if not isinstance(line, str):  # why the poet found none
            return refusal(line)
        self._add_line(line, BOT)
        self.begin(now)
        return self.outcome(True, line=line, by=BOT, moves=[Move.played(line, BOT)], notes=[self.turn_note()])

    def poet_window(self) -> list[str]:
        """The lines the poet continues from. An open chain is longer than any 律诗, so the poet
        sees the last few whole couplets: 平仄 repeat every two couplets, rhymes every line pair."""
        lines = [line for line, _ in self.lines]
        if self.rules.form.name in JINTI_FORMS:
            return lines
        index = len(lines)
        return lines[max(0, index - 6 - index % 2) :]

    async def _bot_line(self, now: datetime, poet: LinePoet | None, theme: str | None = None) -> str | Reason:
        """A line from the poet that the judge accepts, or why there is none."""
        problem = say(
            "bot_failed",
            f"{self.name(BOT)[0]}没想出合格的句子，轮空。",
            f"{self.name(BOT)[1]} could not find a fitting line and passes.",
        )
        if poet is None:
            return NO_POET
        for attempt in range(BOT_ATTEMPTS):
            hint = theme[:1] if theme and attempt == 0 else None
            try:
                line = await poet.continue_line(self.poet_window(), self.rules.poet_form, must_contain=hint)
            except PoetError as error:
                problem = say(error.code, error.zh, error.en)
                continue
            judged, _ = self.judge(line)
            if judged is not None:
                return judged
        return problem
