"""Fit the line reader (engine/reader.py) of a model folder to every line readers marked.

    bench/line_reader.py --model engine/weights/default            # cross-validate, fit, write line_reader.json
    bench/line_reader.py --model M --l2 0.01 --l2 0.1 --dry-run    # compare penalties, write nothing

The marks: every folder under bench/panels/ with a lines_key.json (our poems, development themes) and
flags-*.jsonl (one rater each: the numbers of the lines that fail). A line's target is the share of its
raters who marked it. Three tests, none of them on data the fit saw:
- sheets held out one at a time: how well the line reader ranks failing lines above the rest (AUC, a
  line counted failing when half its raters or more marked it);
- the A/B choices (bench/reader.py) between poems no sheet here holds: how often readers chose the poem
  with fewer expected failing lines;
- the whole-sheet panels (acceptance themes): within our poems, Spearman of fewer expected failing lines
  with the raters' mean of fluency, coherence and meaning.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import typer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository, before bench/ (bench/engine.py)
from engine.reader import LineReader, weights_digest  # noqa: E402

sys.path.insert(1, str(Path(__file__).resolve().parent))
from line_sheets import read_sheets  # noqa: E402
from panel import ranks, spearman  # noqa: E402
from reader import PANELS, Featurizer, Poem, choices, sheet_scores  # noqa: E402

# Held-out sheets' AUC on 13,952 marked lines: 0.01 → 0.782, 0.03 → 0.782; on the first 11,056: 0.003 → 0.777,
# 0.01 → 0.781, 0.03 → 0.781, 0.1 → 0.775.
DEFAULT_L2 = 0.03

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Fit a model's line reader to readers' marks.")


def marks(panels: Path = PANELS) -> list[tuple[str, Poem, list[float]]]:
    """(sheet, poem, the share of its raters who marked each line) for every poem a rater marked."""
    return [(sheet, tuple(poem.lines), poem.failing) for sheet, poem in read_sheets(panels)]


def auc(scores: list[float], failing: list[bool]) -> float:
    """The chance a failing line scores above one that reads (ties count half): Mann-Whitney's U over both counts."""
    ranked = ranks(scores)
    positives = sum(failing)
    negatives = len(failing) - positives
    rank_sum = sum(rank for rank, bad in zip(ranked, failing) if bad)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def _fit(featurize: Featurizer, marked: list[tuple[str, Poem, list[float]]], l2: float, sha: str) -> LineReader:
    features = torch.cat(featurize.lines([poem for _, poem, _ in marked]))  # (lines, F)
    targets = torch.tensor([share for _, _, shares in marked for share in shares])  # (lines,)
    return LineReader.fit(features, targets, l2, sha)


def expected_failing(featurize: Featurizer, reader: LineReader, poems: list[Poem]) -> list[float]:
    return [float(reader.failing(lines).sum()) for lines in featurize.lines(poems)]


def held_out_auc(featurize: Featurizer, marked: list[tuple[str, Poem, list[float]]], l2: float) -> float:
    scores: list[float] = []
    failing: list[bool] = []
    for sheet in sorted({sheet for sheet, _, _ in marked}):
        reader = _fit(featurize, [m for m in marked if m[0] != sheet], l2, "")
        held = [m for m in marked if m[0] == sheet]
        for lines, (_, _, shares) in zip(featurize.lines([poem for _, poem, _ in held]), held):
            scores += reader.failing(lines).tolist()
            failing += [share >= 0.5 for share in shares]
    return auc(scores, failing)


@app.command()
def fit_command(
    model: Annotated[
        Path, typer.Option(help="The model folder; line_reader.json is written into it.", exists=True, file_okay=False)
    ],
    l2: Annotated[
        list[float] | None,
        typer.Option(help=f"L2 penalty (default {DEFAULT_L2}); several: each cross-validated, the best kept."),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Report only; write nothing.")] = False,
) -> None:
    marked = marks()
    if not marked:
        raise typer.BadParameter(f"no marked lines under {PANELS} (folders with lines_key.json and flags-*.jsonl)")
    featurize = Featurizer(model)
    sha = weights_digest(model)
    line_count = sum(len(shares) for _, _, shares in marked)
    print(f"{line_count} marked lines of {len(marked)} poems from {len({m[0] for m in marked})} sheets")
    results = {penalty: held_out_auc(featurize, marked, penalty) for penalty in l2 or [DEFAULT_L2]}
    for penalty, value in results.items():
        print(f"l2 {penalty}: held-out sheets' lines, AUC {value:.3f}")
    best = max(results, key=lambda penalty: results[penalty])
    reader = _fit(featurize, marked, best, sha)

    seen = {poem for _, poem, _ in marked}
    unseen = [(c.better, c.worse) for c in choices() if c.better not in seen and c.worse not in seen]
    if unseen:
        chosen = expected_failing(featurize, reader, [better for better, _ in unseen])
        other = expected_failing(featurize, reader, [worse for _, worse in unseen])
        agreed = np.mean([c < o for c, o in zip(chosen, other)])
        print(
            f"A/B choices between poems no sheet marked: {agreed:.3f} of {len(unseen)} for fewer expected failing lines"
        )
    rhos = []
    for name, scores in sheet_scores().items():
        poems = list(scores)
        rho = spearman([-f for f in expected_failing(featurize, reader, poems)], [scores[p] for p in poems])
        if rho is not None:
            rhos.append(rho)
            print(f"  {name}: Spearman {rho:+.2f} over {len(poems)} of our poems")
    if rhos:
        print(f"whole sheets, within ours: mean Spearman {np.mean(rhos):+.2f}")
    if not dry_run:
        reader.save(model)
        print(f"line reader (l2 {best}) → {model / 'line_reader.json'}")


if __name__ == "__main__":
    sys.exit(app())
