"""A sheet of real poems, "frankenpoems" and ours, to learn what the raters' human guess reads.

A frankenpoem is made of real couplets of different poems: the same form, a title holding the same theme, one rhyme
group (engine.prosody.check), so that every line is a person's and the poem is on its theme and rhymes, but the
couplets were never written to one another. If raters take such poems for a person's, the guess reads the lines; if
they do not, it reads how the lines hang together. Each slot (dev theme × form) gets one real poem, one frankenpoem
and one of ours (the shipped pipeline's poem at seed S, read from --ours); the three are shuffled onto one sheet.

usage: python bench/panels/2026-12-01-s28-frankenpoems/make_sheet.py OURS.jsonl FOLDER [SEED]
(the corpus from $LIANJU_DATA_DIR/corpus; the sheet written by bench/panel.py's write_sheet, under the rubric's sheet
section)
"""

import json
import random
import sys
from collections import defaultdict
from pathlib import Path

from bot.config import get_settings
from engine.prosody import check
from engine.yardsticks import read_records

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/
from panel import RUBRIC, SHEET_SECTION, Entry, rubric_section, write_sheet  # noqa: E402

THEMES = ("月", "秋", "江", "梅", "雨", "西湖", "雪", "柳", "酒", "中秋")
FORMS = ("wujue", "qijue", "wulv", "qilv")


def scanning_poems(corpus: Path) -> dict[tuple[str, str, str], list[dict]]:
    """Real poems that scan, by (theme, form, rhyme group)."""
    found = defaultdict(list)
    for record in read_records(corpus):
        if record["form"] not in FORMS:
            continue
        themes = [theme for theme in THEMES if theme in record["title"]]
        if not themes:
            continue
        report = check("\n".join(record["lines"]), record["form"])
        if report.ok:
            for theme in themes:
                found[theme, record["form"], report.rhyme_group].append(record)
    return found


def main(ours_file: str, folder: str, seed: int = 2804) -> None:
    rng = random.Random(seed)
    out = Path(folder)
    ours = {(p["theme"], p["form"]): p for p in map(json.loads, Path(ours_file).read_text("utf-8").splitlines())}
    poems = scanning_poems(get_settings().corpus_dir)
    entries = []
    for theme in THEMES:
        for form in FORMS:
            couplets = len(ours[theme, form]["lines"]) // 2
            groups = [key for key, found in poems.items() if key[:2] == (theme, form) and len(found) > couplets]
            group = rng.choice(sorted(groups))
            real, *donors = rng.sample(poems[group], couplets + 1)
            franken = [line for i, donor in enumerate(donors) for line in donor["lines"][2 * i : 2 * i + 2]]
            sources = [{"id": d["id"], "author": d["author"], "title": d["title"]} for d in donors]
            entries += [
                {"source": "real", "theme": theme, "form": form, "lines": real["lines"], "corpus_id": real["id"]},
                {"source": "franken", "theme": theme, "form": form, "lines": franken, "couplets_from": sources},
                {"source": "ours", "theme": theme, "form": form, "lines": ours[theme, form]["lines"]},
            ]
    rng.shuffle(entries)
    key = {f"P{i:03d}": entry for i, entry in enumerate(entries, start=1)}
    sheet = [Entry(e["source"], e["form"], e["theme"], e["lines"], sheet_id=pid) for pid, e in key.items()]
    (out / "sheet.md").write_text(write_sheet(sheet, rubric_section(RUBRIC, SHEET_SECTION)), encoding="utf-8")
    (out / "key.json").write_text(
        json.dumps({"seed": seed, "ours_file": ours_file, "poems": key}, ensure_ascii=False, indent=1), "utf-8"
    )
    print(f"{len(key)} poems → {out / 'sheet.md'}, key {out / 'key.json'} (not for raters)")


main(sys.argv[1], sys.argv[2], *map(int, sys.argv[3:]))
