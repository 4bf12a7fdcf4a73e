"""The reader: which of two of our poems would a reader of classical poetry choose?

Two raters given the same pair of our poems choose the same one 88% of the time (1,656 pairs read
twice, bench/panels), yet nothing the model computes about a poem follows those choices: its own
likelihood, the coherence yardsticks, a discriminator of ours against real poems (separating them
at 98%) all rank our poems near chance (bench/RESULTS.md, sessions 7 and 8). The readers' own
choices do. The reader is a Bradley-Terry model of them: a logistic regression, without intercept,
on the difference between two poems' features, fitted to every choice the A/B panels recorded.

A poem's features are the model's own final hidden states for the poem read on its own
(`<bos><poem><form><sep>` and the body): their mean over positions and the last position's, 2·C
numbers. The language model stays frozen and only those 2·C weights are learned, so a few
thousand choices are enough, and the reader is a small JSON file beside the weights (reader.json),
valid only for the weights it was fitted on (their sha256). A fine-tune (engine.finetune) carries its base's
reader over to the new weights, marked as carried: a few hundred rated poems move the states little, and
without it the fine-tuned model would rank as models did before the reader; `bench/reader.py --model` fits
one of its own.

Written by hand rather than with scikit-learn: twenty lines of L-BFGS on a convex loss, not a
dependency for the bot.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from engine import prompts

READER_FILE = "reader.json"
WEIGHTS_FILE = "model.safetensors"


class StateBackend(Protocol):
    def final_states(self, input_ids: torch.Tensor) -> torch.Tensor: ...  # (B, T) → (B, T, C)


def weights_digest(model_dir: Path) -> str:
    digest = hashlib.sha256()
    with open(model_dir / WEIGHTS_FILE, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def poem_text(lines: Sequence[str], form: str) -> str:
    """A poem as the reader reads it: the poem prompt without theme or plan, then the body."""
    return prompts.poem_prompt(form) + prompts.poem_body(list(lines))


@torch.inference_mode()
def features(backend: StateBackend, token_ids: Sequence[Sequence[int]], batch: int = 64) -> torch.Tensor:
    """(N, 2·C) features of N token sequences; sequences of one length go through the model together."""
    by_length: dict[int, list[int]] = {}
    for index, ids in enumerate(token_ids):
        by_length.setdefault(len(ids), []).append(index)
    rows: dict[int, torch.Tensor] = {}
    for indices in by_length.values():
        for start in range(0, len(indices), batch):
            chunk = indices[start : start + batch]
            states = backend.final_states(torch.tensor([token_ids[i] for i in chunk]))  # (b, T, C)
            pooled = torch.cat([states.mean(1), states[:, -1]], -1)  # (b, 2C)
            rows.update(zip(chunk, pooled))
    return torch.stack([rows[i] for i in range(len(token_ids))])  # (N, 2C)


def fit(better: torch.Tensor, worse: torch.Tensor, l2: float) -> torch.Tensor:
    """Weights w that make σ(w·(better − worse)) the chance the first poem is chosen; L2-penalised."""
    difference = (better - worse).double()  # (N, F)
    weights = torch.zeros(difference.shape[1], dtype=torch.float64, requires_grad=True)  # (F,)
    optimizer = torch.optim.LBFGS([weights], max_iter=500, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimizer.zero_grad()
        # −log σ(d·w) over the choices; without an intercept the loss is the same for a pair read either way
        value = torch.nn.functional.softplus(-(difference @ weights)).mean() + l2 / 2 * weights.square().sum()
        value.backward()
        return value

    optimizer.step(loss)
    return weights.detach().float()


@dataclass
class Reader:
    weights: torch.Tensor  # (2C,)
    weights_sha256: str  # of the model.safetensors whose states it reads
    choices: int  # how many readers' choices it was fitted on
    l2: float
    carried_from: str | None = None  # the sha256 of the weights it was fitted on, when carried to a fine-tune

    def scores(self, states: torch.Tensor) -> list[float]:
        return (states @ self.weights).tolist()  # (N, 2C) @ (2C,) → (N,)

    def save(self, model_dir: Path) -> None:
        data = {
            "weights_sha256": self.weights_sha256,
            "choices": self.choices,
            "l2": self.l2,
            "carried_from": self.carried_from,
            "weights": [round(w, 7) for w in self.weights.tolist()],
        }
        (model_dir / READER_FILE).write_text(json.dumps(data) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, model_dir: Path) -> Reader | None:
        """The folder's reader, or None when it has none or one fitted on other weights."""
        path = model_dir / READER_FILE
        if not path.is_file() or not (model_dir / WEIGHTS_FILE).is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["weights_sha256"] != weights_digest(model_dir):
            return None
        return cls(
            torch.tensor(data["weights"]), data["weights_sha256"], data["choices"], data["l2"], data.get("carried_from")
        )


def carry_over(base: Path, fine_tuned: Path) -> bool:
    """Give a fine-tune of `base` the base's reader (see the module's docstring); False when the base has none."""
    reader = Reader.load(base)
    if reader is None:
        return False
    fitted_on = reader.carried_from or reader.weights_sha256
    Reader(reader.weights, weights_digest(fine_tuned), reader.choices, reader.l2, carried_from=fitted_on).save(
        fine_tuned
    )
    return True
