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

# The sizes make a 七律's card 1,088 px wide: Discord shows it at most ~550 px wide, so on the 2x and 3x
# screens of most phones and laptops every pixel is shown; three quarters of the size would save only ~1.5 ms
# of CPU a card (bench/card.py).
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
# The glyph masks kept (_glyph): 3.4 KB each at CHAR, so at most ~28 MB; more than the distinct characters
# of many days of poems (the model's vocabulary is 6,406 characters, most of them rare).
GLYPHS_CACHED = 8192


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


@lru_cache(maxsize=GLYPHS_CACHED)
def _glyph(char: str, size: int) -> tuple[Image.Image, int, int]:
    """The character's antialiased coverage at a size, and its top left corner relative to the point it is centred on
    (as draw.text's anchor "mm" places it). Rasterising a glyph costs FreeType ~65 µs, pasting the cached mask
    with an ink ~12 µs: a card draws up to 70 characters, and poems share most of them. The masks are shared by
    the threads drawing cards, which only read them; the ink is laid on when pasted, so one mask serves any."""
    font = _font(size)
    left, top, right, bottom = map(int, font.getbbox(char, anchor="mm"))  # whole pixels, typed as floats
    mask = Image.new("L", (right - left, bottom - top))
    ImageDraw.Draw(mask).text((-left, -top), char, font=font, fill=255, anchor="mm")
    return mask, left, top


def _draw_char(image: Image.Image, centre: tuple[int, int], char: str, size: int, ink: tuple[int, int, int]) -> None:
    mask, left, top = _glyph(char, size)
    image.paste(ink, (centre[0] + left, centre[1] + top), mask)


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
    buffer = io.BytesIO()
    # In the card's own palette (one byte a pixel, not three) at zlib's fastest level: a 七律 card is mapped and
    # encoded in ~3 ms of CPU, where RGB with optimize=True took ~90 ms, 90% of all its drawing; RGB at level 1
    # still took ~11 ms. The file is half as large too (bench/card.py).
    draw_card(lines, options).quantize(palette=_palette(), dither=Image.Dither.NONE).save(
        buffer, format="PNG", compress_level=1
    )
    return buffer.getvalue()


@lru_cache(maxsize=1)
def _palette() -> Image.Image:
    """Every colour the card has: the paper, and for each ink as many shades between it and the paper as 256
    entries allow (63), for a glyph's antialiased edge is the ink laid over the paper (or, on the seal, the
    paper over vermilion) in part. No pixel of the PNG is more than 5 of 255 off the drawn one (Pillow looks
    colours up in steps of 4; tests/bot/test_card.py holds it to 6). The one palette serves every thread:
    Pillow fills its lookup cache lazily, each entry with the same colour whichever thread gets there."""
    inks = (INK, TITLE_INK, VERMILION, RULE)
    shades = 255 // len(inks)
    colours = [PAPER] + [
        tuple(round(paper + (ink - paper) * step / shades) for paper, ink in zip(PAPER, colour))
        for colour in inks
        for step in range(1, shades + 1)
    ]
    palette = Image.new("P", (1, 1))
    palette.putpalette([channel for colour in colours for channel in colour])
    return palette


def draw_card(lines: list[str], options: CardOptions = CardOptions()) -> Image.Image:
    """The card as drawn, in RGB, before render_card stores it in the card's palette."""
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
        _draw_char(image, (column_centre(0), y), char, TITLE_CHAR, TITLE_INK)
    for number, line in enumerate(lines):
        x = column_centre(number + 1)
        for index, char in enumerate(line):
            y = MARGIN + index * STEP + STEP // 2
            _draw_char(image, (x, y), char, CHAR, INK)
        if number in marked and line:
            # 圈点: a small ring to the right of the rhyme character, as readers mark rhymes in the margin
            y = MARGIN + (len(line) - 1) * STEP + STEP // 2
            ring_x = x + CHAR // 2 + 6
            draw.ellipse([ring_x - 5, y - 5, ring_x + 5, y + 5], outline=VERMILION, width=3)
    _seal(draw, column_centre(columns - 1), height - MARGIN, convert(SEAL_TEXT), options.model_version)
    return image


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
