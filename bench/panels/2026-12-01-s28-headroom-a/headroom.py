"""How far could choosing among our own finished poems go? For each request (theme, form) the sheets
hold four poems the shipped pipeline wrote with different seeds. Leave one rater out: the other raters'
scores pick one poem per request and the rater left out scores the pick, so that the pick's luck with
the raters who chose it does not count (the winner's curse). Also: how well the engine's own scores
(its ranking total, the reader, the line reader, the likelihood) follow the raters within a request.

usage: python bench/panels/2026-12-01-s28-headroom-a/headroom.py bench/panels/2026-12-01-s28-headroom-a \
    bench/panels/2026-12-01-s28-headroom-b
"""

import json
import random
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/
from panel import CRITERIA, parse_rating, read_ratings, spearman  # noqa: E402

ENGINE_SCORES = {
    "ranking total": lambda scores: scores["total"],
    "reader": lambda scores: scores["reader"],
    "line reader (fewer expected failing lines)": lambda scores: -sum(scores["failing_lines"]),
    "mean log-likelihood": lambda scores: scores["mean_log_likelihood"],
}


def load(folder: Path):
    key = json.loads((folder / "key.json").read_text(encoding="utf-8"))
    ours_lines = (folder / "ours.jsonl").read_text(encoding="utf-8").splitlines()  # a copy of key["ours_file"]
    by_rater, problems = read_ratings(folder, "ratings-", parse_rating, set(key["poems"]))
    if problems:
        sys.exit("\n".join(problems))
    # each reading as one record of its five scores and its human guess
    ratings = {
        rater: {pid: {**rating.scores, "human": rating.human} for pid, rating in answers.items()}
        for rater, answers in by_rater.items()
    }
    return key["poems"], ours_lines, ratings


def pick(ids: list[str], ratings: dict, raters: list[str], order: tuple[str, ...], ties: dict[str, float], best=max):
    """The poem the raters' mean scores put first, by the fields of `order` in turn ("all": the five summed)."""

    def mean(pid: str, field: str) -> float:
        fields = CRITERIA if field == "all" else (field,)
        return statistics.mean(sum(ratings[r][pid][f] for f in fields) for r in raters)

    return best(ids, key=lambda pid: (*(mean(pid, field) for field in order), ties[pid]))


def main(folders: list[str]) -> None:
    rng = random.Random(0)
    picks = defaultdict(list)  # how the pick was made -> [(coherence, human, mean of the five)], left-out rater's
    within = defaultdict(list)  # engine score -> Spearman with the raters' mean coherence, one per request
    sheet = defaultdict(list)
    for folder in map(Path, folders):
        poems, ours_lines, ratings = load(folder)
        raters = sorted(ratings)
        requests = defaultdict(list)
        for pid, poem in poems.items():
            for rater in raters:
                for field in ("coherence", "fluency", "human"):
                    sheet[poem["source"], field].append(ratings[rater][pid][field])
            if poem["source"] == "ours":
                scores = json.loads(ours_lines[poem["ours_line"] - 1])["scores"]
                requests[poem["theme"], poem["form"]].append((pid, scores))
        for group in requests.values():
            ids = [pid for pid, _ in group]
            mean_coherence = [statistics.mean(ratings[r][pid]["coherence"] for r in raters) for pid in ids]
            for name, score in ENGINE_SCORES.items():
                rho = spearman([score(scores) for _, scores in group], mean_coherence)
                if rho is not None:
                    within[name].append(rho)
            for left_out in raters:
                others = [r for r in raters if r != left_out]
                ties = {pid: rng.random() for pid in ids}

                def seen(pid: str, marks: dict = ratings[left_out]) -> tuple[int, int, float]:
                    row = marks[pid]
                    return row["coherence"], row["human"], statistics.mean(row[c] for c in CRITERIA)

                picks["any one (the mean)"].extend(seen(pid) for pid in ids)
                by_coherence = ("coherence", "all")
                picks["best of 4 by others' coherence"].append(seen(pick(ids, ratings, others, by_coherence, ties)))
                picks["best of 4 by others' human guess"].append(
                    seen(pick(ids, ratings, others, ("human", "coherence"), ties))
                )
                picks["best of 2 by others' coherence"].append(seen(pick(ids[:2], ratings, others, by_coherence, ties)))
                picks["worst of 4 by others' coherence"].append(
                    seen(pick(ids, ratings, others, by_coherence, ties, best=min))
                )
                for name in ("ranking total", "reader"):
                    chosen = max(group, key=lambda item, name=name: ENGINE_SCORES[name](item[1]))[0]
                    picks[f"best of 4 by the engine's {name}"].append(seen(chosen))
    print("| whole sheet | coherence | fluency | taken for a person's |\n|---|---|---|---|")
    for source in ("ours", "real"):
        human = sheet[source, "human"]
        print(
            f"| {source} | {statistics.mean(sheet[source, 'coherence']):.2f} | "
            f"{statistics.mean(sheet[source, 'fluency']):.2f} | {sum(human)} of {len(human)} |"
        )
    print("\n| our poem chosen (scored by the rater left out) | coherence | taken for a person's | mean of the five |")
    print("|---|---|---|---|")
    for name, rows in picks.items():
        coherence, human, mean5 = zip(*rows, strict=True)
        share = f"{sum(human)} of {len(human)} ({sum(human) / len(human):.1%})"
        print(f"| {name} | {statistics.mean(coherence):.2f} | {share} | {statistics.mean(mean5):.2f} |")
    print("\n| engine score | within a request, Spearman with the raters' mean coherence (mean) | requests |")
    print("|---|---|---|")
    for name, rhos in within.items():
        print(f"| {name} | {statistics.mean(rhos):+.2f} | {len(rhos)} |")


main(sys.argv[1:])
