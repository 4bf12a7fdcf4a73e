"""Subset Noto Serif CJK SC (SIL OFL 1.1, Debian's fonts-noto-cjk) to what the poem card draws:
every character of the shipped model's vocabulary, its 繁體 forms, and the card's own marks.

    apt-get install fonts-noto-cjk && python scripts/subset-card-font.py

writes bot/fonts/NotoSerifCJKsc-Lianju.otf (a few MB instead of the collection's 60). The font is
OFL: the subset keeps its name table and ships beside bot/fonts/OFL.txt.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

from bot.card import CARD_MARKS, FONT_PATH
from engine.text import to_traditional

ROOT = Path(__file__).resolve().parent.parent
COLLECTION = Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc")
FACE = "Noto Serif CJK SC"
VOCABULARY = ROOT / "engine" / "weights" / "default" / "tokenizer.json"


def characters() -> str:
    vocab = json.loads(VOCABULARY.read_text(encoding="utf-8"))["model"]["vocab"]
    simplified = "".join(sorted(token for token in vocab if len(token) == 1))
    return "".join(sorted(set(simplified + to_traditional(simplified) + CARD_MARKS)))


def main() -> None:
    if not COLLECTION.is_file():
        sys.exit(f"{COLLECTION} is missing: apt-get install fonts-noto-cjk")
    font = next(face for face in TTCollection(str(COLLECTION)) if face["name"].getDebugName(4) == FACE)
    options = subset.Options()
    options.layout_features = ["vert", "vrt2", "kern", "liga"]  # vertical forms of the punctuation
    options.name_IDs = ["*"]  # the copyright and licence records stay with the font
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=characters())
    subsetter.subset(font)
    font.save(str(FONT_PATH))
    print(f"{FONT_PATH.relative_to(ROOT)}: {FONT_PATH.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
