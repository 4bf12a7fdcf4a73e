"""One more epoch of a model on the 近体 train poems of the canonical poets: the poets of 唐诗三百首 and 千家诗.

    .venv/bin/python bench/panels/2026-12-01-s27-canon-17100/canon_ft.py PACKAGE_DIST OUT [--cap 600] [--lr 1e-4]

PACKAGE_DIST is the chinese-poetry package's dist folder (its mengxue files name the poets); the corpus is
$LIANJU_DATA_DIR/corpus. At most --cap poems a poet, so that 陆游's 7,524 do not make the epoch his.
"""

import argparse
import collections
import json
import random
import re
import sys
from pathlib import Path

import opencc

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository, before bench/
from bot.config import get_settings  # noqa: E402
from engine.finetune import RatedPoem, finetune  # noqa: E402
from engine.forms import JINTI_FORMS  # noqa: E402
from engine.yardsticks import read_records  # noqa: E402

ANTHOLOGIES = ("tangshisanbaishou", "qianjiashi")


def canonical_poets(dist: Path) -> set[str]:
    to_simplified = opencc.OpenCC("t2s")
    poets = set()
    for name in ANTHOLOGIES:
        for section in json.loads((dist / "mengxue" / f"{name}.json").read_text(encoding="utf-8"))["content"]:
            for poem in section["content"]:
                poets.add(to_simplified.convert(re.sub(r"（.*?）", "", poem["author"]).strip()))  # （唐）孟浩然
    return poets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dist", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--cap", type=int, default=600)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--model", type=Path, default=Path("engine/weights/default"))
    args = parser.parse_args()
    poets = canonical_poets(args.dist)
    corpus = get_settings().corpus_dir
    poems = [
        record
        for record in read_records(corpus)
        if record["author"] in poets and record["form"] in JINTI_FORMS and record["split"] == "train"
    ]
    random.Random(0).shuffle(poems)
    per_poet: collections.Counter = collections.Counter()
    kept = []
    for record in poems:
        if per_poet[record["author"]] < args.cap:
            per_poet[record["author"]] += 1
            kept.append(
                RatedPoem(id=len(kept), lines=record["lines"], form=record["form"], title=record["title"], ratings={})
            )
    print(f"{len(poets)} poets, {len(poems):,} of their 近体 train poems, {len(kept):,} kept", file=sys.stderr)
    print(finetune(args.model, args.out, kept, corpus, epochs=1, lr=args.lr, corpus_ratio=0))


if __name__ == "__main__":
    main()
