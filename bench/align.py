"""Readers' line marks for `lianju align` (engine/preference.py), and a check that what it learnt generalises.

    bench/align.py marks --out marks.jsonl                          # every marked sheet under bench/panels
    bench/align.py marks --out train.jsonl --held-out held.jsonl    # a fifth of the sheets (by name) kept apart
    bench/align.py marks --out own.jsonl --only '2026-11-29-line-flags-aligned/[ij]*'   # some sheets only
    lianju align train.jsonl --out /tmp/aligned
    bench/align.py check --base engine/weights/default --aligned /tmp/aligned --marks held.jsonl

`check` reads the held-out sheets' lines with both models: how much likelier the aligned model makes the lines
readers passed than those they failed (mean change of log-probability), and how well each model's own per-character
log-probability tells the failed lines from the passed (AUC; 0.5 is chance).
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
from engine.preference import all_completion_log_probs, line_examples, read_marks  # noqa: E402
from engine.tokenizer import load_tokenizer  # noqa: E402
from engine.train import tokenize  # noqa: E402

sys.path.insert(1, str(Path(__file__).resolve().parent))
from line_reader import auc  # noqa: E402
from line_sheets import read_sheets  # noqa: E402
from reader import PANELS  # noqa: E402

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
    kept: list[str] = []
    apart: list[str] = []
    for sheet, poem in read_sheets(PANELS):
        if only is not None and not fnmatch(sheet, only):
            continue
        kept_apart = held_out is not None and zlib.crc32(sheet.encode()) % FOLDS == 0
        (apart if kept_apart else kept).append(json.dumps(asdict(poem), ensure_ascii=False) + "\n")
    if not kept:
        wanted = f" matches {only!r}" if only is not None else ""
        raise typer.BadParameter(
            f"no marked sheet under {PANELS}{wanted}.", param_hint="--only" if only is not None else None
        )
    out.write_text("".join(kept), encoding="utf-8")
    if held_out is not None:
        held_out.write_text("".join(apart), encoding="utf-8")
    print(f"{len(kept)} marked poems → {out}" + (f"; {len(apart)} held out → {held_out}" if held_out else ""))


def _line_log_probs(model_dir: Path, items: list[tuple[list[int], int]], pad_id: int) -> torch.Tensor:
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    return all_completion_log_probs(model, items, pad_id, torch.device("cpu"))  # (N,)


@app.command()
def check(
    base: Annotated[Path, typer.Option(help="The model before alignment.", exists=True, file_okay=False)],
    aligned: Annotated[Path, typer.Option(help="The model after it.", exists=True, file_okay=False)],
    marks_file: Annotated[Path, typer.Option("--marks", help="Marked poems it was not trained on.")],
) -> None:
    """How the aligned model moved held-out lines that readers passed and failed."""
    examples = line_examples(read_marks(marks_file))
    tokenizer = load_tokenizer(base)
    items = tokenize(tokenizer, [(prompt, line) for prompt, line, _ in examples])
    passed = torch.tensor([wanted for _, _, wanted in examples])  # (N,)
    # (N,): one token per character or mark of the completion (a rhyming line's has neither its rhyme nor its mark)
    tokens = torch.tensor([len(line) for _, line, _ in examples], dtype=torch.float32)
    before = _line_log_probs(base, items, tokenizer.pad_token_id)
    after = _line_log_probs(aligned, items, tokenizer.pad_token_id)
    change = after - before  # (N,)
    failed = (~passed).tolist()
    print(f"{int(passed.sum())} passed and {int((~passed).sum())} failed lines of {marks_file}")
    print(f"mean change of log-probability: passed {change[passed].mean():+.3f}, failed {change[~passed].mean():+.3f}")
    print(f"AUC of the fall, failed above passed: {auc((-change).tolist(), failed):.3f}")
    for name, log_probs in (("base", before), ("aligned", after)):
        print(f"AUC of low log-probability per token, {name}: {auc((-log_probs / tokens).tolist(), failed):.3f}")


if __name__ == "__main__":
    app()
