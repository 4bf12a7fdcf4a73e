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

The line reader: which lines of a poem would a reader mark as failing (not grammatical, idiomatic
classical Chinese, or making no sense where they stand)? Raters marking our poems line by line agree
well (κ 0.80 on 360 lines read twice, bench/panels/2026-11-28-line-flags), and a line's marks are a far
denser signal than a choice between two whole poems. A logistic regression on each line's features: the
mean of the final states over its characters and the state at its end mark, the log-probabilities the
model gives its characters (mean, lowest, last: the rhyme character is where a line most often breaks),
and where it stands (line_features). Its expected count of failing lines ranks candidates
(engine.poet); it lives in line_reader.json beside reader.json, tied to the weights the same way.

Both are written by hand rather than with scikit-learn: twenty lines of L-BFGS on a convex loss, not a
dependency for the bot.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import ClassVar, Protocol, Self

import torch

from engine import prompts

READER_FILE = "reader.json"
LINE_READER_FILE = "line_reader.json"
WEIGHTS_FILE = "model.safetensors"

log = logging.getLogger(__name__)


class StateBackend(Protocol):
    def states_and_logits(
        self, input_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]: ...  # (B, T) → (B, T, C), (B, T, V)


def weights_digest(model_dir: Path) -> str:
    """The sha256 of the folder's weights. Both readers check it when a model is loaded (and a fine-tune's
    carry-over for each): the 26 MB are hashed once per version of the file (its size and mtime)."""
    path = (model_dir / WEIGHTS_FILE).resolve()
    stat = path.stat()
    return _file_digest(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _file_digest(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def poem_text(lines: Sequence[str], form: str) -> str:
    """A poem as the reader reads it: the poem prompt without theme or plan, then the body."""
    return prompts.poem_prompt(form) + prompts.poem_body(list(lines))


@dataclass
class Readings:
    poems: torch.Tensor  # (N, 2C): each poem's mean and last final state, the reader's features
    lines: list[torch.Tensor]  # per poem, (its lines, 2C + 6): each line's features (line_features)


@torch.inference_mode()
def read(
    backend: StateBackend, token_ids: Sequence[Sequence[int]], line_lengths: Sequence[Sequence[int]], batch: int = 64
) -> Readings:
    """Both readers' features of N poems (token ids of poem_text, and each poem's line lengths in
    characters); poems of one length go through the model together, once."""
    by_length: dict[int, list[int]] = {}
    for index, ids in enumerate(token_ids):
        by_length.setdefault(len(ids), []).append(index)
    poems: dict[int, torch.Tensor] = {}
    lines: dict[int, torch.Tensor] = {}
    for indices in by_length.values():
        for start in range(0, len(indices), batch):
            chunk = indices[start : start + batch]
            batch_ids = torch.tensor([token_ids[i] for i in chunk])  # (b, T)
            states, logits = backend.states_and_logits(batch_ids)  # (b, T, C), (b, T, V)
            pooled = torch.cat([states.mean(1), states[:, -1]], -1)  # (b, 2C)
            # the log-probability of each token given those before it; the first has none
            chosen = torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, batch_ids[:, 1:, None])[
                ..., 0
            ]  # (b, T-1)
            chosen = torch.nn.functional.pad(chosen, (1, 0))  # (b, T)
            for row, index in enumerate(chunk):
                poems[index] = pooled[row]
                lines[index] = line_features(states[row], chosen[row], line_lengths[index])
    return Readings(torch.stack([poems[i] for i in range(len(token_ids))]), [lines[i] for i in range(len(token_ids))])


def line_features(states: torch.Tensor, log_probs: torch.Tensor, lengths: Sequence[int]) -> torch.Tensor:
    """(lines, 2C + 6) features of one poem's lines from its states (T, C) and its tokens' log-probabilities
    (T,): the body is the last tokens, each line's characters followed by one end mark."""
    start = states.shape[0] - sum(length + 1 for length in lengths)
    rows = []
    for number, length in enumerate(lengths):
        chars = slice(start, start + length)
        where = [number / max(len(lengths) - 1, 1), float(len(lengths) > 4), float(number % 2)]
        rows.append(
            torch.cat(
                [
                    states[chars].mean(0),  # (C,)
                    states[start + length],  # (C,): the end mark, after the whole line
                    torch.stack([log_probs[chars].mean(), log_probs[chars].min(), log_probs[start + length - 1]]),
                    torch.tensor(where),
                ]
            )
        )
        start += length + 1
    return torch.stack(rows)  # (lines, 2C + 6)


def fit_logistic(inputs: torch.Tensor, targets: torch.Tensor, l2: float, intercept: bool) -> tuple[torch.Tensor, float]:
    """Weights w (and a bias b, with `intercept`) minimising the mean cross-entropy of σ(x·w + b) against
    targets in [0, 1], plus l2/2·|w|²."""
    inputs, targets = inputs.double(), targets.double()  # (N, F), (N,)
    weights = torch.zeros(inputs.shape[1] + intercept, dtype=torch.float64, requires_grad=True)  # (F [+ 1],)
    optimizer = torch.optim.LBFGS([weights], max_iter=500, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimizer.zero_grad()
        logits = inputs @ weights[: inputs.shape[1]] + (weights[-1] if intercept else 0.0)  # (N,)
        # −y·log σ(z) − (1 − y)·log(1 − σ(z)) = softplus(z) − y·z; the bias goes unpenalised
        value = (torch.nn.functional.softplus(logits) - targets * logits).mean()
        value = value + l2 / 2 * weights[: inputs.shape[1]].square().sum()
        value.backward()
        return value

    optimizer.step(loss)
    weights = weights.detach()
    return weights[: inputs.shape[1]].float(), float(weights[-1]) if intercept else 0.0


def fit(better: torch.Tensor, worse: torch.Tensor, l2: float) -> torch.Tensor:
    """The reader's weights w, which make σ(w·(better − worse)) the chance the first poem is chosen. Without an
    intercept the loss is the same for a pair read either way."""
    difference = better - worse  # (N, F)
    return fit_logistic(difference, torch.ones(difference.shape[0]), l2, intercept=False)[0]


def _load_fitted(model_dir: Path, filename: str) -> dict | None:
    """A reader file's data, or None when the folder has none or one fitted on other weights."""
    path = model_dir / filename
    if not path.is_file() or not (model_dir / WEIGHTS_FILE).is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    if data["weights_sha256"] != weights_digest(model_dir):
        # said aloud: a reader copied beside other weights (a file copied by hand) would otherwise leave the
        # ranking without it unnoticed
        log.warning(
            "%s was fitted on other weights and is left out of the ranking: refit it (bench/reader.py or "
            "bench/line_reader.py --model %s), or carry a base's over with engine.reader.carry_over",
            path,
            model_dir,
        )
        return None
    return data


def _plain(value: object) -> object:
    """A field as JSON holds it: tensors as lists and floats both to 7 places."""
    if isinstance(value, torch.Tensor):
        return [round(number, 7) for number in value.tolist()]
    return round(value, 7) if isinstance(value, float) else value


@dataclass
class _Fitted:
    """A model of readers fitted on one model's states: saved beside its weights as JSON (tensors as lists),
    and loaded only for those weights."""

    FILE: ClassVar[str]

    def save(self, model_dir: Path) -> None:
        data = {field.name: _plain(getattr(self, field.name)) for field in fields(self)}
        (model_dir / self.FILE).write_text(json.dumps(data) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, model_dir: Path) -> Self | None:
        """The folder's reader of this kind, or None when it has none or one fitted on other weights."""
        data = _load_fitted(model_dir, cls.FILE)
        if data is None:
            return None
        values = {name: torch.tensor(value) if isinstance(value, list) else value for name, value in data.items()}
        return cls(**{field.name: values[field.name] for field in fields(cls) if field.name in values})


@dataclass
class Reader(_Fitted):
    FILE: ClassVar[str] = READER_FILE
    weights: torch.Tensor  # (2C,)
    weights_sha256: str  # of the model.safetensors whose states it reads
    choices: int  # how many readers' choices it was fitted on
    l2: float
    carried_from: str | None = None  # the sha256 of the weights it was fitted on, when carried to a fine-tune

    def scores(self, states: torch.Tensor) -> list[float]:
        return (states @ self.weights).tolist()  # (N, 2C) @ (2C,) → (N,)


@dataclass
class LineReader(_Fitted):
    FILE: ClassVar[str] = LINE_READER_FILE
    weights: torch.Tensor  # (F,), on standardised features
    bias: float
    center: torch.Tensor  # (F,): the features' mean over the marked lines
    scale: torch.Tensor  # (F,): their standard deviation
    weights_sha256: str
    lines: int  # how many marked lines it was fitted on
    l2: float
    carried_from: str | None = None

    @classmethod
    def fit(cls, features: torch.Tensor, failing: torch.Tensor, l2: float, weights_sha256: str) -> LineReader:
        """Fitted to lines' features (N, F) and the share of their readers who marked them failing (N,).
        Standardised first: the states, log-probabilities and positions differ in scale by a hundredfold."""
        center, scale = features.mean(0), features.std(0).clamp(min=1e-6)  # (F,), (F,)
        weights, bias = fit_logistic((features - center) / scale, failing, l2, intercept=True)
        return cls(weights, bias, center, scale, weights_sha256, features.shape[0], l2)

    def failing(self, features: torch.Tensor) -> torch.Tensor:
        """(lines,) the chance a reader marks each line (features (lines, F)) as failing."""
        return torch.sigmoid((features - self.center) / self.scale @ self.weights + self.bias)


def carry_over(base: Path, fine_tuned: Path) -> bool:
    """Give a fine-tune of `base` the base's readers (see the module's docstring); False when the base has none."""
    carried = False
    for filename in (READER_FILE, LINE_READER_FILE):
        data = _load_fitted(base, filename)
        if data is None:
            continue
        data["carried_from"] = data.get("carried_from") or data["weights_sha256"]
        data["weights_sha256"] = weights_digest(fine_tuned)
        (fine_tuned / filename).write_text(json.dumps(data) + "\n", encoding="utf-8")
        carried = True
    return carried
