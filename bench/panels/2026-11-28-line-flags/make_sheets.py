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
CHOICES = FOLDER.parent / "2026-11-28-reader-choices"

INSTRUCTIONS = """# Which lines do not read?

Read only this sheet; do not open any other file and do not look anything up: judge from the text alone.
Each item is one poem of a given form written on a theme (题), its lines numbered. Read the poem as a whole,
as a scholar of classical poetry would, then name every line that fails: a line that is not grammatical,
idiomatic classical Chinese (a made-up phrase, words that cannot go together, no sense to be made of it), or
one that makes no sense where it stands (it contradicts the rest: another season, time of day or scene; or it
does not follow from the lines before). Prosody (rhyme, 平仄) is not judged. A line that is plain or
commonplace but reads and fits is not a failure. Many poems have no such line; some have several.

Write one JSON object per item, one per line, to the answer file named in your instructions:
{"id": "L001", "bad": [list of failing line numbers, empty if none], "note": "<= 15 words"}
"""


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
        blocks, key = [], {}
        for index, poem in enumerate(poems, 1):
            poem_id = f"L{index:03d}"
            numbered = "\n".join(f"  {n}. {line}" for n, line in enumerate(poem["lines"], 1))
            blocks.append(f"- {poem_id}　题：{poem['theme']}\n{numbered}")
            key[poem_id] = poem
        (FOLDER / name).mkdir()
        (FOLDER / name / "lines.md").write_text(f"{INSTRUCTIONS}\n" + "\n".join(blocks) + "\n", encoding="utf-8")
        (FOLDER / name / "lines_key.json").write_text(json.dumps(key, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(names)} sheets of {2 * pairs_per_sheet} poems; {len(pairs)} unused pairs left")


if __name__ == "__main__":
    main()
