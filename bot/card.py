"""The poem card: a PNG of the poem as it is written on paper, in columns read top to bottom and
right to left (竖排), the title in the first column, a red ring beside each rhyme character
(圈点), and a seal with the model's version. Pure Python (Pillow); the cogs attach what
`render_card` returns.

The font is Noto Serif CJK SC (SIL OFL 1.1, bot/fonts/OFL.txt) subset to the model's vocabulary, its
繁體 forms and CARD_MARKS by scripts/subset-card-font.py: a character outside it would be drawn as a
blank box, and the model writes no character outside it.
"""

from __future__ import annotations

import io
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont

from engine.forms import JINTI_FORMS
from engine.prosody import level_groups
from engine.text import to_traditional

FONT_PATH = Path(__file__).with_name("fonts") / "NotoSerifCJKsc-Lianju.otf"
SEAL_TEXT = "联句"
# What the card draws besides the poem: the seal (both scripts), the version, the title's marks.
CARD_MARKS = SEAL_TEXT + to_traditional(SEAL_TEXT) + string.ascii_letters + string.digits + string.punctuation + " ·"

CHAR = 60  # the poem's characters, in pixels
COLUMN = 96  # one column: a character and the space between it and the next column
STEP = 70  # from one character to the next down a column
MARGIN = 64
TITLE_CHAR = 44
SEAL = 76
VERSION_CHAR = 15
PAPER = (246, 240, 226)
INK = (33, 30, 28)
RULE = (222, 208, 184)  # the paper's column lines
TITLE_INK = (110, 72, 48)
VERMILION = (178, 34, 34)


@dataclass(frozen=True)
class CardOptions:
    traditional: bool = False  # 繁體: for a server whose language is zh-TW
    title: str = ""
    rhyme_group: str | None = None  # the 平水韵 group (engine.prosody) whose characters are marked
    form: str | None = None  # the form's name, for which lines rhyme
    model_version: str = ""


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_PATH), size)


@lru_cache(maxsize=1)
def _drawable() -> frozenset[int]:
    return frozenset(TTFont(FONT_PATH, lazy=True).getBestCmap())


def traditional_where_drawable(text: str) -> str:
    """繁體, character by character, keeping the simplified one where the font lacks the traditional
    (a few map to rare forms outside the CJK font, as 𣯶)."""
    drawable, converted = _drawable(), to_traditional(text)
    if len(converted) != len(text):  # OpenCC maps character for character; never drop one if it did not
        return converted
    return "".join(t if ord(t) in drawable else s for s, t in zip(text, converted))


def rhyme_lines(lines: list[str], rhyme_group: str | None, form: str | None = None) -> list[int]:
    """The 0-based lines whose last character rhymes in the group: the even-numbered lines (2, 4, …)
    and a first line that rhymes (首句入韵)."""
    if not rhyme_group or not lines:
        return []
    jinti = JINTI_FORMS.get(form or "")
    may_rhyme = {0, *(jinti.rhyme_lines if jinti else range(1, len(lines), 2))}
    return [
        index
        for index, line in enumerate(lines)
        if index in may_rhyme and line and any(group.label == rhyme_group for group in level_groups(line[-1]))
    ]


def render_card(lines: list[str], options: CardOptions = CardOptions()) -> bytes:
    """The poem as a PNG: its lines as columns from the right, the title before them, the seal after."""
    marked = set(rhyme_lines(lines, options.rhyme_group, options.form))
    convert = traditional_where_drawable if options.traditional else str
    lines = [convert(line) for line in lines]
    title = convert(options.title)
    depth = max([len(line) for line in lines] + [0])
    columns = len(lines) + 2  # the title's column on the right, the seal's on the left
    width = 2 * MARGIN + columns * COLUMN
    height = 2 * MARGIN + max(depth * STEP, len(title) * (TITLE_CHAR + 8), 2 * SEAL + STEP)
    image = Image.new("RGB", (width, height), PAPER)
    draw = ImageDraw.Draw(image)

    def column_centre(column: int) -> int:  # column 0 is the rightmost
        return width - MARGIN - column * COLUMN - COLUMN // 2

    for column in range(columns + 1):
        x = width - MARGIN - column * COLUMN
        draw.line([(x, MARGIN // 2), (x, height - MARGIN // 2)], fill=RULE, width=2)
    for index, char in enumerate(title):
        y = MARGIN + index * (TITLE_CHAR + 8) + TITLE_CHAR // 2
        draw.text((column_centre(0), y), char, font=_font(TITLE_CHAR), fill=TITLE_INK, anchor="mm")
    for number, line in enumerate(lines):
        x = column_centre(number + 1)
        for index, char in enumerate(line):
            y = MARGIN + index * STEP + STEP // 2
            draw.text((x, y), char, font=_font(CHAR), fill=INK, anchor="mm")
        if number in marked and line:
            # 圈点: a small ring to the right of the rhyme character, as readers mark rhymes in the margin
            y = MARGIN + (len(line) - 1) * STEP + STEP // 2
            ring_x = x + CHAR // 2 + 6
            draw.ellipse([ring_x - 5, y - 5, ring_x + 5, y + 5], outline=VERMILION, width=3)
    _seal(draw, column_centre(columns - 1), height - MARGIN, convert(SEAL_TEXT), options.model_version)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _seal(draw: ImageDraw.ImageDraw, centre_x: int, bottom: int, text: str, version: str) -> None:
    """A vermilion seal: the bot's name in white, the model's version beneath it (wrapped to fit)."""
    font = _font(VERSION_CHAR)
    version_lines: list[str] = []
    for char in version:
        if version_lines and draw.textlength(version_lines[-1] + char, font=font) <= SEAL - 10:
            version_lines[-1] += char
        else:
            version_lines.append(char)
    half = SEAL // 2
    top = bottom - SEAL - len(version_lines) * (VERSION_CHAR + 2) - 8
    left = centre_x - SEAL // 2
    draw.rounded_rectangle([left, top, left + SEAL, bottom], radius=6, fill=VERMILION)
    for index, char in enumerate(text[:2]):
        draw.text(
            (centre_x, top + 6 + index * (half - 4) + half // 2), char, font=_font(half - 8), fill=PAPER, anchor="mm"
        )
    for index, line in enumerate(version_lines):
        y = top + SEAL + 2 + index * (VERSION_CHAR + 2) + VERSION_CHAR // 2
        draw.text((centre_x, y), line, font=font, fill=PAPER, anchor="mm")
