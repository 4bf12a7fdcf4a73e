"""The decoding loop: many rows at once, each with its own prompt, constraint and random seed.

A row's constraint says which tokens may come next (engine.constraints); on top of that come
the repetition penalty, temperature, top-k and top-p. Each row keeps the model's own
log-likelihood (temperature 1, no constraints) of what it wrote, for ranking candidates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import torch


class Constraint(Protocol):
    length: int  # tokens to generate, <eos> included

    def allowed(self, generated: list[int]) -> torch.Tensor: ...


class Backend(Protocol):
    name: str

    def prefill(self, input_ids: torch.Tensor, pad_lengths: torch.Tensor) -> torch.Tensor: ...

    def step(self, tokens: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.9
    top_k: int = 40
    top_p: float = 0.92
    repetition_penalty: float = 1.15

    def __post_init__(self):
        if not 0.05 <= self.temperature <= 2.0:
            raise ValueError("temperature must be between 0.05 and 2")
        if not 1 <= self.top_k <= 1000:
            raise ValueError("top_k must be between 1 and 1000")
        if not 0.05 <= self.top_p <= 1.0:
            raise ValueError("top_p must be between 0.05 and 1")
        if not 1.0 <= self.repetition_penalty <= 2.0:
            raise ValueError("repetition_penalty must be between 1 and 2")


@dataclass
class Row:
    prompt: list[int]
    constraint: Constraint
    params: SamplingParams
    seed: int
    tokens: list[int] = field(default_factory=list)
    log_likelihood: float = 0.0

    @property
    def mean_log_likelihood(self) -> float:
        return self.log_likelihood / max(len(self.tokens), 1)


def _choose(logits: torch.Tensor, row: Row, generator: torch.Generator) -> int:
    params = row.params
    scores = logits.clone()
    if row.tokens and params.repetition_penalty != 1.0:
        seen = torch.tensor(sorted(set(row.tokens)))
        previous = scores[seen]
        scores[seen] = torch.where(previous > 0, previous / params.repetition_penalty,
                                   previous * params.repetition_penalty)
    scores = scores / params.temperature
    scores[~row.constraint.allowed(row.tokens)] = -torch.inf
    kept = min(params.top_k, int(torch.isfinite(scores).sum()))
    top_scores, top_ids = scores.topk(kept)
    probs = torch.softmax(top_scores, -1)
    if params.top_p < 1.0:
        cumulative = probs.cumsum(-1)
        probs = torch.where(cumulative - probs < params.top_p, probs, torch.zeros_like(probs))
    return int(top_ids[torch.multinomial(probs, 1, generator=generator)])


@torch.inference_mode()
def sample(backend: Backend, rows: list[Row], pad_id: int) -> list[Row]:
    """Fill in `tokens` and `log_likelihood` of every row; returns the rows."""
    width = max(len(row.prompt) for row in rows)
    pad_lengths = torch.tensor([width - len(row.prompt) for row in rows])
    input_ids = torch.tensor([[pad_id] * (width - len(row.prompt)) + row.prompt for row in rows])
    generators = [torch.Generator().manual_seed(row.seed) for row in rows]
    logits = backend.prefill(input_ids, pad_lengths).float()
    for _ in range(max(row.constraint.length for row in rows)):
        log_probs = torch.log_softmax(logits, -1)
        next_tokens = []
        for index, row in enumerate(rows):
            if len(row.tokens) < row.constraint.length:
                token = _choose(logits[index], row, generators[index])
                row.tokens.append(token)
                row.log_likelihood += float(log_probs[index, token])
            else:
                token = pad_id  # finished rows idle until the longest is done
            next_tokens.append(token)
        if all(len(row.tokens) >= row.constraint.length for row in rows):
            break
        logits = backend.step(torch.tensor(next_tokens)).float()
    return rows
