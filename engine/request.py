"""What a request to the poet may hold, checked without the model.

`lianju poem 🌙` used to load torch, transformers and the weights (12 s on two cores) before saying
the theme needs a Chinese character. Everything here imports neither, so the CLI refuses bad input at
once, and engine.poet runs the same checks before it adds the one that needs the model: whether the
model knows each character.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from engine.forms import JINTI_FORMS, Form, parse_form
from engine.prosody import opening_patterns, prepare_lines
from engine.text import is_han, strip_invisible, to_simplified

MAX_THEME_CHARS = 12
MAX_CANDIDATES = 32
SEED_MAX = 2**32 - 1  # what every random generator the poet seeds accepts (a row's seed is seed·1000 + i)
MAX_KEYWORD_CHARS = 4  # a plan word is one to three characters; a keyword longer is no word
TONE_MODES = ("strict", "lenient", "off")  # strict: also guard 孤平 and 三平尾; off: no 平仄
# Where in a line a plan word may begin: 五言 lines read 2+3 (2+2+1 or 2+1+2), 七言 2+2+3.
WORD_STARTS = {5: frozenset({0, 2, 3}), 7: frozenset({0, 2, 4, 5})}
# How often each form is chosen when the user leaves it to us.
AUTO_FORMS = {"qijue": 0.35, "wulv": 0.25, "qilv": 0.25, "wujue": 0.15}


class PoetError(ValueError):
    """A request the poet cannot honour, with the reason in Chinese and English."""

    def __init__(self, code: str, zh: str, en: str):
        super().__init__(en)
        self.code, self.zh, self.en = code, zh, en


@dataclass(frozen=True)
class RequestText:
    """The parts of a compose request that passed every check the model is not needed for."""

    theme: str  # "" when a first line stands for it
    heads: str | None
    forms: list[Form]
    opening: str | None  # the user's first line (起句), one line of Han characters
    opening_types: frozenset[str]  # the first-line types (engine.prosody) it can be


def check_request_text(
    theme: str,
    form: str = "auto",
    acrostic: str | None = None,
    first_line: str | None = None,
    tone_mode: str = "strict",
) -> RequestText:
    """The request's theme, acrostic, forms and first line, or the PoetError that refuses them. A theme
    left empty beside a first line is the line's to give (engine.poet)."""
    if tone_mode not in TONE_MODES:
        raise PoetError("tone_mode", "平仄模式须为 strict、lenient 或 off。", "tone_mode is strict, lenient or off.")
    opening = None if first_line is None else opening_line(first_line)
    if opening and not strip_invisible(theme).strip():
        theme = ""
    else:
        theme = han_text(theme, "主题", "theme", MAX_THEME_CHARS)
    heads = None if acrostic is None else acrostic_heads(acrostic)
    forms = allowed_forms(form, heads)
    opening_types: frozenset[str] = frozenset()
    if opening:
        forms, opening_types = opening_forms(opening, forms, heads, tone_mode)
    return RequestText(theme, heads, forms, opening, opening_types)


def han_text(text: str, what_zh: str, what_en: str, limit: int) -> str:
    """The Han characters of `text` (simplified), or why there are none or too many."""
    cleaned = to_simplified(strip_invisible(text)).strip()
    if not cleaned:
        raise PoetError("empty", f"{what_zh}不能为空。", f"The {what_en} is empty.")
    if len(cleaned) > limit:
        raise PoetError("too_long", f"{what_zh}最多 {limit} 个字。", f"The {what_en} is at most {limit} characters.")
    han = "".join(c for c in cleaned if is_han(c))
    if not han:
        raise PoetError(
            "no_han", f"{what_zh}需要至少一个汉字。", f"The {what_en} needs at least one Chinese character."
        )
    return han


def acrostic_heads(text: str) -> str:
    """藏头 as typed: spaces and punctuation between the heads go (春 夏 秋 冬, 春夏秋冬，花鸟风月); any
    other character that is not Han is named, not silently dropped."""
    heads = "".join(
        char for char in strip_invisible(text) if not (char.isspace() or unicodedata.category(char)[0] == "P")
    )
    strangers = [char for char in heads if not is_han(char)]
    if strangers:
        raise PoetError(
            "non_han",
            f"藏头只能是汉字：「{strangers[0]}」不是。",
            f"An acrostic is Chinese characters: 「{strangers[0]}」 is not one.",
        )
    return han_text(heads, "藏头", "acrostic", 8)


def checked_seed(seed: int) -> int:
    """The seed, or a PoetError for one out of range or not a whole number."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise PoetError(
            "seed", f"种子须为 0 到 {SEED_MAX} 之间的整数。", f"The seed is a whole number from 0 to {SEED_MAX}."
        )
    return seed


def checked_candidates(n_candidates: int) -> int:
    if isinstance(n_candidates, bool) or not isinstance(n_candidates, int) or not 1 <= n_candidates <= MAX_CANDIDATES:
        raise PoetError(
            "candidates",
            f"候选数须为 1 到 {MAX_CANDIDATES} 之间的整数。",
            f"n_candidates is a whole number from 1 to {MAX_CANDIDATES}.",
        )
    return n_candidates


def allowed_forms(form: str, heads: str | None) -> list[Form]:
    """The forms the request allows: the one named, or those of `auto` that fit the acrostic."""
    if form.strip().lower() not in ("", "auto"):
        try:
            chosen = parse_form(form)
        except ValueError as error:
            raise PoetError("form", f"未知体裁：{form}（可选：五绝、七绝、五律、七律）", str(error)) from error
        if heads and len(heads) != chosen.line_count:
            raise PoetError(
                "acrostic_length",
                f"{chosen.label_zh}有 {chosen.line_count} 句，藏头须为 {chosen.line_count} 个字。",
                f"A {chosen.label_en} has {chosen.line_count} lines: the acrostic needs "
                f"{chosen.line_count} characters.",
            )
        return [chosen]
    forms = [JINTI_FORMS[name] for name in AUTO_FORMS]
    if heads:
        forms = [f for f in forms if f.line_count == len(heads)]
        if not forms:
            raise PoetError(
                "acrostic_length",
                "藏头须为 4 个字（绝句）或 8 个字（律诗）。",
                "An acrostic has 4 characters (a quatrain) or 8 (regulated verse).",
            )
    return forms


def opening_line(first_line: str) -> str:
    """The user's first line as one line of Han characters, or the reason it is not one."""
    lines, problems = prepare_lines(first_line)
    if problems:
        raise PoetError(problems[0].code, f"起句：{problems[0].zh}", f"First line: {problems[0].en}")
    if len(lines) != 1 or len(lines[0]) not in WORD_STARTS:
        shown = "，".join(lines)
        raise PoetError(
            "first_line_length",
            f"起句须为一句五言或七言（5 或 7 个字）：「{shown}」不是。",
            f"The first line must be one line of 5 or 7 characters: 「{shown}」 is not.",
        )
    return lines[0]


def opening_forms(
    opening: str, forms: list[Form], heads: str | None, tone_mode: str
) -> tuple[list[Form], frozenset[str]]:
    """The forms of the first line's length, and the first-line types (A–D) its 平仄 fit."""
    fitting = [f for f in forms if f.chars_per_line == len(opening)]
    if not fitting:
        named = forms[0]
        raise PoetError(
            "first_line_length",
            f"{named.label_zh}每句 {named.chars_per_line} 字，起句「{opening}」有 {len(opening)} 字。",
            f"Lines of a {named.label_en} have {named.chars_per_line} characters; "
            f"the first line 「{opening}」 has {len(opening)}.",
        )
    if heads and heads[0] != opening[0]:
        raise PoetError(
            "first_line_acrostic",
            f"藏头的第一个字「{heads[0]}」须是起句的第一个字「{opening[0]}」。",
            f"The acrostic begins 「{heads[0]}」 but the first line begins 「{opening[0]}」: they must match.",
        )
    patterns, reasons = opening_patterns(opening, fitting[0], tone_mode)
    if not patterns:
        raise PoetError(
            "first_line_tones",
            f"起句「{opening}」不能开启一首近体诗：" + "".join(reason.zh for reason in reasons),
            f"「{opening}」 cannot open a regulated poem: " + " ".join(reason.en for reason in reasons),
        )
    return fitting, frozenset(pattern.line_types[0] for pattern in patterns)
