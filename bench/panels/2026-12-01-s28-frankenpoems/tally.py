"""The frankenpoem sheet's tally, by source (real, franken, ours) and form: the five criteria and the human guess.

usage: python bench/panels/2026-12-01-s28-frankenpoems/tally.py  (writes tally.md beside it)
"""

import json
import statistics
from collections import defaultdict
from pathlib import Path

CRITERIA = ("theme", "fluency", "coherence", "meaning", "poeticness")
HERE = Path(__file__).parent

key = json.loads((HERE / "key.json").read_text("utf-8"))["poems"]
readings = defaultdict(list)
raters = []
for path in sorted(HERE.glob("ratings-*.jsonl")):
    raters.append(path.stem.removeprefix("ratings-"))
    for row in map(json.loads, filter(str.strip, path.read_text("utf-8").splitlines())):
        entry = key[row["id"]]
        for group in (entry["source"], (entry["source"], entry["form"])):
            readings[group].append(row)

lines = [f"# Tally of {HERE.name}", "", f"Raters: {', '.join(raters)}.", ""]
lines += ["| source | form | readings | " + " | ".join(CRITERIA) + " | taken for a human's |"]
lines += ["|---|---|---|" + "---|" * (len(CRITERIA) + 1)]
for source in ("real", "franken", "ours"):
    for group, form in [(source, "all"), *(((source, f), f) for f in ("wujue", "qijue", "wulv", "qilv"))]:
        rows = readings[group]
        means = " | ".join(f"{statistics.mean(r[c] for r in rows):.2f}" for c in CRITERIA)
        human = sum(r["human"] for r in rows)
        lines.append(
            f"| {source} | {form} | {len(rows)} | {means} | {human} of {len(rows)} ({human / len(rows):.0%}) |"
        )
(HERE / "tally.md").write_text("\n".join(lines) + "\n", "utf-8")
print("\n".join(lines))
