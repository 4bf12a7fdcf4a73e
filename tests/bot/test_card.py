"""The poem card: a PNG of the poem in columns, rhymes marked, 繁體 on request."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
from PIL import Image, ImageChops

from bot.card import (
    COLUMN,
    FONT_PATH,
    INK,
    MARGIN,
    TITLE_INK,
    CardOptions,
    draw_card,
    render_card,
    rhyme_lines,
    traditional_where_drawable,
)

DENGLOU = ["白日依山尽", "黄河入海流", "欲穷千里目", "更上一层楼"]
BAIDI = ["朝辞白帝彩云间", "千里江陵一日还", "两岸猿声啼不住", "轻舟已过万重山"]


def test_rhyme_lines_are_the_even_lines_and_a_rhyming_first_line():
    assert rhyme_lines(DENGLOU, "下平声十一尤", "wujue") == [1, 3]
    assert rhyme_lines(BAIDI, "上平声十五删", "qijue") == [0, 1, 3]
    assert rhyme_lines(BAIDI, None, "qijue") == []


def test_a_card_is_a_png_one_column_per_line():
    quatrain = Image.open(io.BytesIO(render_card(DENGLOU, CardOptions(title="登鹳雀楼", model_version="v0"))))
    assert quatrain.format == "PNG"
    regulated = Image.open(io.BytesIO(render_card(DENGLOU * 2, CardOptions(model_version="v0"))))
    assert regulated.width > quatrain.width and 400 < quatrain.width < 1200 and 300 < quatrain.height < 900
    # the poem's characters are ink on paper: dark pixels in every line's column
    assert quatrain.convert("L").getextrema()[0] < 60


def test_traditional_and_marks_change_the_drawing():
    plain = render_card(BAIDI, CardOptions(model_version="v0"))
    assert render_card(BAIDI, CardOptions(model_version="v0", traditional=True)) != plain
    marked = render_card(BAIDI, CardOptions(model_version="v0", rhyme_group="上平声十五删", form="qijue"))
    assert red_pixels(marked) > red_pixels(plain)  # the rings beside 间, 还 and 山


def red_pixels(png: bytes) -> int:
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3).astype(int)  # (pixels, RGB)
    return int(((pixels[:, 0] > 150) & (pixels[:, 1] < 150)).sum())


def test_a_glyph_drawn_again_keeps_its_own_ink_and_size():
    # the title 白日 is drawn before the poem's 白 and 日: the glyphs are cached per character and size, the ink
    # laid on when drawn, so the poem's must still come out in the poem's ink, at the poem's size
    card = draw_card(DENGLOU, CardOptions(title="白日", model_version="v0"))
    right = card.width - MARGIN
    title = card.crop((right - COLUMN, MARGIN, right, card.height // 2))
    first_line = card.crop((right - 2 * COLUMN, MARGIN, right - COLUMN, card.height // 2))
    title_colours = {colour for _, colour in title.getcolors(65536) or []}
    line_colours = {colour for _, colour in first_line.getcolors(65536) or []}
    assert TITLE_INK in title_colours and INK not in title_colours
    assert INK in line_colours and TITLE_INK not in line_colours

    def glyph_width(column: Image.Image) -> int:  # of the first character, 白 in both columns
        box = column.crop((0, 0, COLUMN, 60)).convert("L").point(lambda value: 255 * (value < 128)).getbbox()
        assert box is not None
        return box[2] - box[0]

    assert glyph_width(first_line) > glyph_width(title) + 8
    assert draw_card(DENGLOU, CardOptions(title="白日", model_version="v0")).tobytes() == card.tobytes()


def test_the_png_keeps_every_colour_drawn():
    # the PNG is stored in the card's own palette: every pixel drawn must find its colour there, nearly exactly
    options = CardOptions(title="早发白帝城", rhyme_group="上平声十五删", form="qijue", model_version="v2026-11-28")
    for traditional in (False, True):
        drawn = draw_card(BAIDI, replace(options, traditional=traditional))
        stored = Image.open(io.BytesIO(render_card(BAIDI, replace(options, traditional=traditional))))
        assert stored.size == drawn.size
        assert max(high for _, high in ImageChops.difference(drawn, stored.convert("RGB")).getextrema()) <= 6


def test_the_font_covers_the_vocabulary_and_is_small():
    import json

    from fontTools.ttLib import TTFont

    from engine.text import to_traditional

    assert FONT_PATH.stat().st_size < 6_000_000
    vocab = json.loads((FONT_PATH.parents[2] / "engine/weights/default/tokenizer.json").read_text())["model"]["vocab"]
    chars = "".join(token for token in vocab if len(token) == 1 and "\u4e00" <= token <= "\u9fff")
    covered = TTFont(FONT_PATH).getBestCmap()
    assert [c for c in chars if ord(c) not in covered] == []
    # every 繁體 form is drawn, or the simplified one where the font has none (毶 → 𣯶)
    assert all(ord(c) in covered for c in traditional_where_drawable(chars))
    assert traditional_where_drawable("轻舟毶") == "輕舟毶" and to_traditional("毶") == "𣯶"


async def test_the_card_is_attached_unless_turned_off():
    from bot.discord.views import CARD_FILENAME, poem_message
    from bot.services import PoemCard

    card = PoemCard(1, "登楼", DENGLOU, "wujue", "下平声十一尤", "v0", 0, None, "zh-TW")
    embed, files = await poem_message(card)
    assert embed.image.url == f"attachment://{CARD_FILENAME}" and [f.filename for f in files] == [CARD_FILENAME]
    assert files[0].fp.read().startswith(b"\x89PNG")
    embed, files = await poem_message(card, with_card=False)  # the server turned the card off
    assert files == [] and embed.image.url is None


def test_cards_drawn_in_parallel_threads_are_those_drawn_one_by_one():
    # the bot draws each card in a worker thread (asyncio.to_thread), the glyph masks and the palette shared:
    # eight threads start from empty caches and must draw what one thread draws
    from concurrent.futures import ThreadPoolExecutor

    from bot.card import _glyph, _palette

    options = [CardOptions(title="早发白帝城", traditional=bool(n % 2), model_version="v0") for n in range(8)]
    _glyph.cache_clear()
    _palette.cache_clear()
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda option: render_card(BAIDI, option), options))
    assert together == [render_card(BAIDI, option) for option in options]
