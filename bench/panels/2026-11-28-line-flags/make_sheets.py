"""Sheets of our poems for readers to mark, line by line, the lines that do not read — the line reader's data.

    make_sheets.py NAME[,NAME…] PAIRS SEED   # writes NAME/lines.md (for the rater) and NAME/lines_key.json

The poems are both candidates of PAIRS pairs per sheet, drawn from the sheets of 2026-11-28-reader-choices
(readers already chose between them there) and not yet used by a sheet of this folder.
"""

import json
import random
import sys
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
sys.path.insert(0, str(FOLDER.parents[1]))  # bench/
from line_sheets import write_sheet  # noqa: E402

CHOICES = FOLDER.parent / "2026-11-28-reader-choices"


def main() -> None:
    names, pairs_per_sheet, seed = sys.argv[1].split(","), int(sys.argv[2]), int(sys.argv[3])
    used = {
        tuple(poem["lines"])
        for key in FOLDER.glob("*/lines_key.json")
        for poem in json.loads(key.read_text(encoding="utf-8")).values()
    }
    pairs = [
        (sheet.parent.name, pair_id, pair)
        for sheet in sorted(CHOICES.glob("*/pairs_key.json"))
        for pair_id, pair in json.loads(sheet.read_text(encoding="utf-8")).items()
        if tuple(pair["1"]) not in used and tuple(pair["2"]) not in used
    ]
    rng = random.Random(seed)
    rng.shuffle(pairs)
    for name in names:
        poems = []
        for sheet, pair_id, pair in (pairs.pop() for _ in range(pairs_per_sheet)):
            for side in ("1", "2"):
                poems.append(
                    {"lines": pair[side], "theme": pair["theme"], "form": pair["form"], "pair": [sheet, pair_id, side]}
                )
        rng.shuffle(poems)
        write_sheet(FOLDER / name, poems)
    print(f"{len(names)} sheets of {2 * pairs_per_sheet} poems; {len(pairs)} unused pairs left")


if __name__ == "__main__":
    main()
