"""Benchmark of the poem card (bot/card.py): CPU time to draw one card, by form.

    .venv/bin/python bench/card.py [--cards 50] [--seed 0] [--out bench/results/card.json]

Draws `--cards` cards per form after a warm-up of a few, one thread, and reports the CPU time
(time.process_time, so a busy machine slows the wall clock but not the measure) per card, the mean
when the same cards are drawn again ("again": every glyph then cached, as real poems mostly repeat
characters already drawn) and the PNG's size. The poems are drawn at random from the model's
vocabulary, their rhyme lines ending on characters of one 平水韵 group (so the rings are drawn), the
title 2-4 characters, every other card in 繁體, as a server reading zh-TW gets it: varied, mostly rare
characters, so the first figure is the cache's worst case.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import PIL  # noqa: E402

from bot.card import CardOptions, render_card  # noqa: E402
from bot.config import SHIPPED_MODEL  # noqa: E402
from engine.forms import JINTI_FORMS  # noqa: E402
from engine.prosody import level_groups  # noqa: E402

WARM_UP = 5
VERSIONS = ["v0", "v20261128-124500"]  # the shipped model's name and a fine-tuned one's


@lru_cache(maxsize=1)
def vocabulary() -> tuple[list[str], dict[str, list[str]]]:
    """The model's Han characters, and those of each 平水韵 level group."""
    vocab = json.loads((SHIPPED_MODEL / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    chars = sorted(token for token in vocab if len(token) == 1 and "\u4e00" <= token <= "\u9fff")
    by_group: dict[str, list[str]] = defaultdict(list)
    for char in chars:
        for group in level_groups(char):
            by_group[group.label].append(char)
    return chars, by_group


def random_cards(form_name: str, count: int, rng: random.Random) -> list[tuple[list[str], CardOptions]]:
    chars, by_group = vocabulary()
    groups = sorted(label for label, members in by_group.items() if len(members) >= 8)
    form = JINTI_FORMS[form_name]
    cards = []
    for number in range(count):
        group = rng.choice(groups)
        lines = []
        for index in range(form.line_count):
            line = rng.choices(chars, k=form.chars_per_line)
            if index in form.rhyme_lines:
                line[-1] = rng.choice(by_group[group])
            lines.append("".join(line))
        options = CardOptions(
            traditional=number % 2 == 1,
            title="".join(rng.choices(chars, k=rng.randint(2, 4))),
            rhyme_group=group,
            form=form_name,
            model_version=VERSIONS[number % len(VERSIONS)],
        )
        cards.append((lines, options))
    return cards


def measure(form_name: str, count: int, seed: int) -> dict:
    rng = random.Random(f"{seed}-{form_name}")
    for lines, options in random_cards(form_name, WARM_UP, rng):
        render_card(lines, options)
    cards = random_cards(form_name, count, rng)
    cpu_ms, again_ms, sizes = [], [], []
    for times in (cpu_ms, again_ms):  # again: the same cards, every glyph drawn before (real poems repeat many)
        for lines, options in cards:
            start = time.process_time()
            png = render_card(lines, options)
            times.append(1000 * (time.process_time() - start))
            sizes.append(len(png))
    return {
        "form": form_name,
        "cards": count,
        "cpu_ms_mean": round(statistics.mean(cpu_ms), 2),
        "cpu_ms_median": round(statistics.median(cpu_ms), 2),
        "cpu_ms_max": round(max(cpu_ms), 2),
        "cpu_ms_mean_again": round(statistics.mean(again_ms), 2),
        "png_kb_mean": round(statistics.mean(sizes) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=50, help="cards measured per form (after a warm-up of 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    rows = [measure(form_name, args.cards, args.seed) for form_name in JINTI_FORMS]
    print(f"{'form':6} {'cards':>5} {'CPU ms mean':>11} {'median':>7} {'max':>7} {'again':>7} {'PNG KB':>7}")
    for row in rows:
        print(
            f"{row['form']:6} {row['cards']:5} {row['cpu_ms_mean']:11.2f} {row['cpu_ms_median']:7.2f}"
            f" {row['cpu_ms_max']:7.2f} {row['cpu_ms_mean_again']:7.2f} {row['png_kb_mean']:7.1f}"
        )
    if args.out:
        report = {"python": platform.python_version(), "pillow": PIL.__version__, "forms": rows}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
