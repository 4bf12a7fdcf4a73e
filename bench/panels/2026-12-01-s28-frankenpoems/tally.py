"""The frankenpoem sheet's tally, by source (real, franken, ours) and form: the five criteria and the human guess.

usage: python bench/panels/2026-12-01-s28-frankenpoems/tally.py  (writes tally.md beside it)
"""

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/
from panel import CRITERIA, parse_rating, read_ratings  # noqa: E402

HERE = Path(__file__).parent

key = json.loads((HERE / "key.json").read_text("utf-8"))["poems"]
by_rater, problems = read_ratings(HERE, "ratings-", parse_rating, set(key))
if problems:
    sys.exit("\n".join(problems))
readings = defaultdict(list)
for answers in by_rater.values():
    for poem_id, rating in answers.items():
        entry = key[poem_id]
        for group in (entry["source"], (entry["source"], entry["form"])):
            readings[group].append(rating)

lines = [f"# Tally of {HERE.name}", "", f"Raters: {', '.join(by_rater)}.", ""]
lines += ["| source | form | readings | " + " | ".join(CRITERIA) + " | taken for a human's |"]
lines += ["|---|---|---|" + "---|" * (len(CRITERIA) + 1)]
for source in ("real", "franken", "ours"):
    for group, form in [(source, "all"), *(((source, f), f) for f in ("wujue", "qijue", "wulv", "qilv"))]:
        ratings = readings[group]
        means = " | ".join(f"{statistics.mean(r.scores[c] for r in ratings):.2f}" for c in CRITERIA)
        human = sum(r.human for r in ratings)
        lines.append(
            f"| {source} | {form} | {len(ratings)} | {means} | {human} of {len(ratings)} ({human / len(ratings):.0%}) |"
        )
(HERE / "tally.md").write_text("\n".join(lines) + "\n", "utf-8")
print("\n".join(lines))
