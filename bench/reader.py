"""Fit the reader (engine/reader.py) of a model folder to every choice the A/B panels recorded.

    bench/reader.py --model engine/weights/default            # cross-validate, fit, write reader.json
    bench/reader.py --model M --l2 0.1 --l2 0.3 --dry-run     # compare penalties, write nothing

The choices: every folder under bench/panels/ (at any depth) with a pairs.md and pair-ratings-*.jsonl
and no key.json — pairs of our poems on development themes. The whole-sheet panels (key.json: our
poems against real ones, acceptance themes) are never fitted on; they are the test: within our poems
of each sheet, how well does the reader's score follow the raters' mean of fluency, coherence and
meaning (Spearman)? The cross-validation holds out whole panels (a fifth at a time, by name) and
leaves out held-out choices whose poems were seen in training, so a poem two panels share does not
count twice.
"""

from __future__ import annotations

import json
import re
import sys
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Annotated, NamedTuple

import numpy as np
import torch
import typer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository, before bench/ (bench/engine.py)
from engine.backends import load_backend  # noqa: E402
from engine.forms import form_for_shape  # noqa: E402
from engine.reader import Reader, fit, poem_text, read, weights_digest  # noqa: E402
from engine.tokenizer import load_tokenizer  # noqa: E402

sys.path.insert(1, str(Path(__file__).resolve().parent))
from panel import PANELS_DIR as PANELS  # noqa: E402
from panel import spearman  # noqa: E402

FOLDS = 5
# Cross-validated on 4,912 choices: 0.01 → 0.578 of held-out choices, 0.3 → 0.598, 1.0 → 0.605, 3.0 → 0.600, 10 → 0.595.
DEFAULT_L2 = 1.0

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Fit a model's reader to the panels' choices.")

Poem = tuple[str, ...]


def _form(poem: Poem) -> str:
    form = form_for_shape([len(line) for line in poem])
    if form is None:
        raise ValueError(f"not a 近体 poem: {'，'.join(poem)}")
    return form.name


def _split(text: str) -> Poem:
    return tuple(line for line in re.split("[，。]", text.strip()) if line)


class PanelChoice(NamedTuple):
    panel: str  # the panel's folder, relative to bench/panels
    better: Poem  # the poem the rater chose
    worse: Poem  # the other
    theme: str  # the pair's 题


def choices(panels: Path = PANELS) -> list[PanelChoice]:
    """Every rater's answer of every A/B panel."""
    found = []
    for sheet in sorted(panels.rglob("pairs.md")):
        folder = sheet.parent
        if (folder / "key.json").exists():
            continue
        pairs: dict[tuple[str, int], Poem] = {}
        themes: dict[str, str] = {}
        pair_id = None
        for line in sheet.read_text(encoding="utf-8").splitlines():
            if heading := re.match(r"- (Q\d+)(?:\s+题：(\S+))?", line):
                pair_id = heading.group(1)
                themes[pair_id] = heading.group(2) or ""
            elif pair_id and (poem := re.match(r"\s+([12])\. (\S+)", line)):
                pairs[(pair_id, int(poem.group(1)))] = _split(poem.group(2))
        for answers in sorted(folder.glob("pair-ratings-*.jsonl")):
            for raw in answers.read_text(encoding="utf-8").splitlines():
                answer = json.loads(raw) if raw.strip() else {}
                better = answer.get("better")
                if better in (1, 2) and (answer.get("id"), better) in pairs:
                    found.append(
                        PanelChoice(
                            str(folder.relative_to(panels)),
                            pairs[(answer["id"], better)],
                            pairs[(answer["id"], 3 - better)],
                            themes[answer["id"]],
                        )
                    )
    return found


def sheet_scores(panels: Path = PANELS) -> dict[str, dict[Poem, float]]:
    """Per whole-sheet panel, our poems' mean rater score of fluency, coherence and meaning."""
    sheets = {}
    for key_file in sorted(panels.rglob("key.json")):
        key = json.loads(key_file.read_text(encoding="utf-8"))["poems"]
        scores = defaultdict(list)
        for ratings in key_file.parent.glob("ratings-*.jsonl"):
            for raw in ratings.read_text(encoding="utf-8").splitlines():
                if raw.strip():
                    rating = json.loads(raw)
                    scores[rating["id"]].append((rating["fluency"] + rating["coherence"] + rating["meaning"]) / 3)
        sheets[key_file.parent.name] = {
            tuple(key[poem_id]["lines"]): float(np.mean(values))
            for poem_id, values in scores.items()
            if key[poem_id]["source"] == "ours"
        }
    return sheets


class Featurizer:
    """Both readers' features of poems through one model (engine.reader.read), each poem read once."""

    def __init__(self, model_dir: Path):
        self.tokenizer = load_tokenizer(model_dir)
        self.backend = load_backend(model_dir, "cpu-fp32")
        self.cache: dict[Poem, tuple[torch.Tensor, torch.Tensor]] = {}

    def _read(self, poems: list[Poem]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        new = [poem for poem in dict.fromkeys(poems) if poem not in self.cache]
        if new:
            ids = [self.tokenizer.encode(poem_text(poem, _form(poem)), add_special_tokens=False) for poem in new]
            readings = read(self.backend, ids, [[len(line) for line in poem] for poem in new])
            self.cache.update(zip(new, zip(readings.poems, readings.lines)))
        return [self.cache[poem] for poem in poems]

    def __call__(self, poems: list[Poem]) -> torch.Tensor:
        return torch.stack([whole for whole, _ in self._read(poems)])  # (N, 2C)

    def lines(self, poems: list[Poem]) -> list[torch.Tensor]:
        return [lines for _, lines in self._read(poems)]  # per poem (its lines, F)


def _fit(featurize: Featurizer, chosen: list[PanelChoice], l2: float) -> torch.Tensor:
    return fit(featurize([c.better for c in chosen]), featurize([c.worse for c in chosen]), l2)


def _agreement(featurize: Featurizer, weights: torch.Tensor, chosen: list[PanelChoice]) -> float:
    margin = (featurize([c.better for c in chosen]) - featurize([c.worse for c in chosen])) @ weights  # (N,)
    return float((margin > 0).float().mean())


def cross_validate(featurize: Featurizer, chosen: list[PanelChoice], l2: float) -> tuple[float, int]:
    agreed = total = 0
    for fold in range(FOLDS):
        held = {c.panel for c in chosen if zlib.crc32(c.panel.encode()) % FOLDS == fold}
        train = [c for c in chosen if c.panel not in held]
        seen = {poem for c in train for poem in (c.better, c.worse)}
        test = [c for c in chosen if c.panel in held and c.better not in seen and c.worse not in seen]
        if test:
            agreed += round(_agreement(featurize, _fit(featurize, train, l2), test) * len(test))
            total += len(test)
    return agreed / total, total


def sheet_correlations(featurize: Featurizer, weights: torch.Tensor) -> dict[str, float]:
    correlations = {}
    for name, scores in sheet_scores().items():
        poems = list(scores)
        rho = spearman((featurize(poems) @ weights).tolist(), [scores[poem] for poem in poems])
        if rho is not None:
            correlations[name] = rho
    return correlations


@app.command()
def fit_command(
    model: Annotated[
        Path, typer.Option(help="The model folder; reader.json is written into it.", exists=True, file_okay=False)
    ],
    l2: Annotated[
        list[float] | None, typer.Option(help="L2 penalty (default 1.0); several: each cross-validated, the best kept.")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Report only; write nothing.")] = False,
) -> None:
    penalties = l2 or [DEFAULT_L2]
    chosen = choices()
    if not chosen:
        raise typer.BadParameter(f"no A/B choices under {PANELS}")
    featurize = Featurizer(model)
    print(f"{len(chosen)} choices from {len({c.panel for c in chosen})} panels")
    results = {}
    for penalty in penalties:
        agreement, count = cross_validate(featurize, chosen, penalty)
        weights = _fit(featurize, chosen, penalty)
        rhos = sheet_correlations(featurize, weights)
        results[penalty] = (agreement, weights)
        print(
            f"l2 {penalty}: held-out panels' choices {agreement:.3f} of {count}; whole sheets, within ours, "
            f"Spearman {np.mean(list(rhos.values())):+.2f} ({' '.join(f'{r:+.2f}' for r in rhos.values())})"
        )
    best = max(results, key=lambda penalty: results[penalty][0])
    if not dry_run:
        Reader(results[best][1], weights_digest(model), len(chosen), best).save(model)
        print(f"reader (l2 {best}) → {model / 'reader.json'}")


if __name__ == "__main__":
    sys.exit(app())
