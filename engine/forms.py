"""The verse forms as data: how many lines, how many characters, which lines rhyme."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.text import to_simplified


@dataclass(frozen=True)
class Form:
    name: str  # the id used everywhere: records, prompts, commands
    label_zh: str
    label_en: str
    line_count: int
    chars_per_line: int

    @property
    def rhyme_lines(self) -> tuple[int, ...]:
        """0-based indices of the lines that must rhyme: every second line.

        The first line may rhyme too (首句入韵); prosody decides that from its last tone.
        """
        return tuple(range(1, self.line_count, 2))

    @property
    def free_positions(self) -> tuple[int, ...]:
        """0-based positions whose tone is free: 一三五不论 (1, 3 of 五言; 1, 3, 5 of 七言)."""
        return tuple(range(0, self.chars_per_line - 2, 2))


WUJUE = Form("wujue", "五言绝句", "five-character quatrain", 4, 5)
QIJUE = Form("qijue", "七言绝句", "seven-character quatrain", 4, 7)
WULV = Form("wulv", "五言律诗", "five-character regulated verse", 8, 5)
QILV = Form("qilv", "七言律诗", "seven-character regulated verse", 8, 7)

JINTI_FORMS: dict[str, Form] = {form.name: form for form in (WUJUE, QIJUE, WULV, QILV)}

OPEN_LINES = range(4, 33, 2)  # an open chain (联句 of any length) has an even number of lines: whole couplets
_OPEN_FORM = re.compile(r"open([57])x(\d+)")


def open_form(chars_per_line: int, line_count: int) -> Form:
    """An open chain: any even number of 5- or 7-character lines, rhyming on every second."""
    if chars_per_line not in (5, 7) or line_count not in OPEN_LINES:
        raise ValueError(
            f"an open chain has 5 or 7 characters a line and an even number of lines from "
            f"{OPEN_LINES.start} to {OPEN_LINES.stop - 1}"
        )
    label = "五" if chars_per_line == 5 else "七"
    return Form(
        f"open{chars_per_line}x{line_count}",
        f"{label}言联句（{line_count}句）",
        f"open chain, {line_count} lines of {chars_per_line} characters",
        line_count,
        chars_per_line,
    )


def stored_form(name: str) -> Form | None:
    """The form a stored poem names (a 近体 form, or an open chain's id such as open7x12); None if unknown."""
    found = _OPEN_FORM.fullmatch(name)
    if found and int(found[2]) in OPEN_LINES:
        return open_form(int(found[1]), int(found[2]))
    return JINTI_FORMS.get(name)


# Accepted spellings of the form names, for commands typed by people.
FORM_ALIASES: dict[str, str] = {
    **{name: name for name in JINTI_FORMS},
    **{form.label_zh: name for name, form in JINTI_FORMS.items()},
    "五绝": "wujue",
    "七绝": "qijue",
    "五律": "wulv",
    "七律": "qilv",
}


def form_for_shape(line_lengths: list[int]) -> Form | None:
    """The 近体 form with exactly this shape, if any."""
    for form in JINTI_FORMS.values():
        if len(line_lengths) == form.line_count and all(length == form.chars_per_line for length in line_lengths):
            return form
    return None


def parse_form(name: str) -> Form:
    """Resolve a user-typed form name; raises ValueError listing the valid ones."""
    typed = to_simplified(name.strip())  # 七言絕句 as 七言绝句
    key = FORM_ALIASES.get(typed.lower()) or FORM_ALIASES.get(typed)
    if key is None:
        valid = ", ".join(f"{n} ({f.label_zh})" for n, f in JINTI_FORMS.items())
        raise ValueError(f"unknown form {name!r}; use one of: {valid}")
    return JINTI_FORMS[key]
