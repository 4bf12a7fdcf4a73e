"""Readers' line marks and choices for `lianju align` (engine/preference.py), and checks that what it learnt
generalises.

    bench/align.py marks --out marks.jsonl                          # every marked sheet under bench/panels
    bench/align.py marks --out train.jsonl --held-out held.jsonl    # a fifth of the sheets (by name) kept apart
    bench/align.py marks --out own.jsonl --only '2026-11-29-line-flags-aligned/[ij]*'   # some sheets only
    lianju align train.jsonl --out /tmp/aligned
    bench/align.py check --base engine/weights/default --aligned /tmp/aligned --marks held.jsonl

    bench/align.py choices --out choices.jsonl [--held-out held.jsonl]   # every A/B panel's choices
    lianju align choices.jsonl --choices --out /tmp/preferred
    bench/align.py check-choices --base engine/weights/default --aligned /tmp/preferred --choices held.jsonl

`check` reads the held-out sheets' lines with both models: how much likelier the aligned model makes the lines
readers passed than those they failed (mean change of log-probability), and how well each model's own per-character
log-probability tells the failed lines from the passed (AUC; 0.5 is chance). `check-choices` reads the held-out
panels' pairs: how often the aligned model moved the chosen poem up against the other (DPO's implicit reward), and
how often each model finds the chosen poem the likelier.
"""

from __future__ import annotations

import json
import sys
import zlib
from dataclasses import asdict
from fnmatch import fnmatch
from pathlib import Path
from typing import Annotated

import torch
import typer
from transformers import AutoModelForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository, before bench/ (bench/engine.py)
from engine.forms import form_for_shape  # noqa: E402
from engine.preference import (  # noqa: E402
    all_counted_log_probs,
    completion_counted,
    counted_poem,
    line_examples,
    read_choices,
    read_marks,
)
from engine.tokenizer import load_tokenizer  # noqa: E402
from engine.train import tokenize  # noqa: E402

sys.path.insert(1, str(Path(__file__).resolve().parent))
from line_reader import auc  # noqa: E402
from line_sheets import read_sheets  # noqa: E402
from reader import PANELS  # noqa: E402
from reader import choices as panel_choices

FOLDS = 5

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Marks for `lianju align`, and its check.")


@app.command()
def marks(
    out: Annotated[Path, typer.Option(help="The marked poems to train on, JSONL.")],
    held_out: Annotated[Path | None, typer.Option(help="Keep a fifth of the sheets apart, in this file.")] = None,
    only: Annotated[
        str | None, typer.Option(help="Only the sheets whose folder under bench/panels matches this pattern.")
    ] = None,
) -> None:
    """Every poem a rater marked, with the share of its raters who marked each line."""
    found = [(sheet, asdict(poem)) for sheet, poem in read_sheets(PANELS) if only is None or fnmatch(sheet, only)]
    _write(found, out, held_out, "marked poems", "marked sheet", only)


@app.command()
def choices(
    out: Annotated[Path, typer.Option(help="The choices to train on, JSONL.")],
    held_out: Annotated[Path | None, typer.Option(help="Keep a fifth of the panels apart, in this file.")] = None,
    only: Annotated[
        str | None, typer.Option(help="Only the panels whose folder under bench/panels matches this pattern.")
    ] = None,
) -> None:
    """Every A/B panel's choices, one per rater's answer: the pair's theme and form, the chosen poem and the other
    (pairs with no theme on their sheet, or the same poem twice, left out)."""
    found = [
        (c.panel, {"theme": c.theme, "form": form.name, "chosen": list(c.better), "rejected": list(c.worse)})
        for c in panel_choices(PANELS)
        # a pair of one poem twice (older panels kept such slots) teaches nothing
        if (only is None or fnmatch(c.panel, only))
        and c.theme
        and c.better != c.worse
        and (form := form_for_shape([len(x) for x in c.better]))
    ]
    _write(found, out, held_out, "choices", "A/B panel", only)


def _write(found: list[tuple[str, dict]], out: Path, held_out: Path | None, what: str, source: str, only) -> None:
    """`found` (its sheet or panel, the record) as JSONL into `out`, or into `held_out` for a fifth of the sheets
    (by name) when it is given."""
    kept: list[str] = []
    apart: list[str] = []
    for sheet, record in found:
        kept_apart = held_out is not None and zlib.crc32(sheet.encode()) % FOLDS == 0
        (apart if kept_apart else kept).append(json.dumps(record, ensure_ascii=False) + "\n")
    if not kept:
        wanted = f" matches {only!r}" if only is not None else ""
        raise typer.BadParameter(
            f"no {source} under {PANELS}{wanted}.", param_hint="--only" if only is not None else None
        )
    out.write_text("".join(kept), encoding="utf-8")
    if held_out is not None:
        held_out.write_text("".join(apart), encoding="utf-8")
    print(f"{len(kept)} {what} → {out}" + (f"; {len(apart)} held out → {held_out}" if held_out else ""))


def _log_probs(model_dir: Path, items: list[tuple[list[int], list[bool]]], pad_id: int) -> torch.Tensor:
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    return all_counted_log_probs(model, items, pad_id)  # (N,)


@app.command()
def check(
    base: Annotated[Path, typer.Option(help="The model before alignment.", exists=True, file_okay=False)],
    aligned: Annotated[Path, typer.Option(help="The model after it.", exists=True, file_okay=False)],
    marks_file: Annotated[Path, typer.Option("--marks", help="Marked poems it was not trained on.")],
) -> None:
    """How the aligned model moved held-out lines that readers passed and failed."""
    examples = line_examples(read_marks(marks_file))
    tokenizer = load_tokenizer(base)
    items = [
        completion_counted(*item) for item in tokenize(tokenizer, [(prompt, line) for prompt, line, _ in examples])
    ]
    passed = torch.tensor([wanted for _, _, wanted in examples])  # (N,)
    # (N,): one token per character or mark of the completion (a rhyming line's has neither its rhyme nor its mark)
    tokens = torch.tensor([len(line) for _, line, _ in examples], dtype=torch.float32)
    before = _log_probs(base, items, tokenizer.pad_token_id)
    after = _log_probs(aligned, items, tokenizer.pad_token_id)
    change = after - before  # (N,)
    failed = (~passed).tolist()
    print(f"{int(passed.sum())} passed and {int((~passed).sum())} failed lines of {marks_file}")
    print(f"mean change of log-probability: passed {change[passed].mean():+.3f}, failed {change[~passed].mean():+.3f}")
    print(f"AUC of the fall, failed above passed: {auc((-change).tolist(), failed):.3f}")
    for name, log_probs in (("base", before), ("aligned", after)):
        print(f"AUC of low log-probability per token, {name}: {auc((-log_probs / tokens).tolist(), failed):.3f}")


@app.command("check-choices")
def check_choices(
    base: Annotated[Path, typer.Option(help="The model before alignment.", exists=True, file_okay=False)],
    aligned: Annotated[Path, typer.Option(help="The model after it.", exists=True, file_okay=False)],
    choices_file: Annotated[Path, typer.Option("--choices", help="Choices it was not trained on.")],
) -> None:
    """How the aligned model moved held-out choices: the chosen poem up against the other?"""
    held = read_choices(choices_file)
    tokenizer = load_tokenizer(base)
    items = [counted_poem(tokenizer, c.theme, c.form, lines) for c in held for lines in (c.chosen, c.rejected)]
    before = _log_probs(base, items, tokenizer.pad_token_id).view(-1, 2)  # (N, 2): chosen, rejected
    after = _log_probs(aligned, items, tokenizer.pad_token_id).view(-1, 2)  # (N, 2)
    moved = (after - before)[:, 0] - (after - before)[:, 1]  # (N,)
    print(f"{len(held)} choices of {choices_file}")
    print(f"the chosen poem moved up against the other: {(moved > 0).float().mean():.3f}")
    for name, log_probs in (("base", before), ("aligned", after)):
        print(f"the chosen poem the likelier, {name}: {(log_probs[:, 0] > log_probs[:, 1]).float().mean():.3f}")


if __name__ == "__main__":
    app()
