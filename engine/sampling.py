"""The decoding loop: many rows at once, each with its own prompt, constraint and random seed.

A row's constraint says which tokens may come next (engine.constraints); on top of that come
the repetition penalty, temperature, top-k and top-p. Each row keeps the model's own
log-likelihood (temperature 1, no constraints) of the tokens it chose, for ranking candidates.

Tokens a constraint forces (line-end marks, acrostic heads, <eos>) are not sampled: they go to
the model in one step together with the token before them, and those at the very end are not
fed at all. A 七律 is 56 steps of the model, not 65.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch


class Constraint(Protocol):
    length: int  # tokens to generate, <eos> included
    relaxed: list[str]  # the rules dropped to leave a choice, recorded with the poem

    def forced(self, generated: list[int]) -> int | None: ...

    def allowed(self, generated: list[int]) -> torch.Tensor: ...  # asked only where forced is None


class Backend(Protocol):
    name: str

    def prefill(self, input_ids: torch.Tensor, pad_lengths: torch.Tensor) -> torch.Tensor: ...

    def step(self, tokens: torch.Tensor) -> torch.Tensor: ...  # (rows, count) → logits after the last

    def keep(self, rows: torch.Tensor) -> None: ...  # (kept,) indices: the batch becomes these rows, in this order


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.9
    top_k: int = 40
    top_p: float = 0.92
    repetition_penalty: float = 1.15
    theme_boost: float = 0.0  # added to the logits of a row's theme characters until one is written
    plan_boost: float = 0.0  # added to the logits of a line's plan word until the line holds all of it
    # subtracted from a character's logit for each time the poem already holds it: 近体 avoids 重字,
    # real poems repeat 2-3% of their characters and ours, with the repetition penalty alone, 7-10%
    repeat_cost: float = 0.0
    topic_boost: float = 0.0  # added to the logits of the characters of a row's topic words, every step
    function_cost: float = 0.0  # subtracted from the logits of a row's grammatical characters, every step

    def __post_init__(self):
        if not 0.05 <= self.temperature <= 2.0:
            raise ValueError("temperature must be between 0.05 and 2")
        if isinstance(self.top_k, bool) or not isinstance(self.top_k, int) or not 1 <= self.top_k <= 1000:
            raise ValueError("top_k must be a whole number between 1 and 1000")
        if not 0.05 <= self.top_p <= 1.0:
            raise ValueError("top_p must be between 0.05 and 1")
        if not 1.0 <= self.repetition_penalty <= 2.0:
            raise ValueError("repetition_penalty must be between 1 and 2")
        if not 0.0 <= self.theme_boost <= 10.0:
            raise ValueError("theme_boost must be between 0 and 10")
        if not 0.0 <= self.plan_boost <= 10.0:
            raise ValueError("plan_boost must be between 0 and 10")
        if not 0.0 <= self.repeat_cost <= 10.0:
            raise ValueError("repeat_cost must be between 0 and 10")
        if not 0.0 <= self.topic_boost <= 10.0:
            raise ValueError("topic_boost must be between 0 and 10")
        if not 0.0 <= self.function_cost <= 10.0:
            raise ValueError("function_cost must be between 0 and 10")


# Subtracted from the logits of a row's avoided tokens: never chosen while anything else is allowed,
# yet no empty choice when a constraint allows nothing else.
AVOID_PENALTY = 30.0
# Added to the next character of a plan word whose first part was just written: a plan word
# favoured one character at a time came out broken (白云 → 白月, 西风 → 西日, 萧萧 → 萧丁).
WORD_COMPLETION_BOOST = 8.0


@dataclass
class Row:
    prompt: list[int]
    constraint: Constraint
    params: SamplingParams
    seed: int
    theme: tuple[int, ...] = ()  # tokens to favour (params.theme_boost) until one of them is written
    theme_word: tuple[int, ...] = ()  # a theme of several characters, favoured as one word until the poem holds it
    theme_word_until: int | None = None  # the line from which it is no longer favoured (None: never)
    topic: tuple[int, ...] = ()  # the characters of the theme's words, favoured lightly (params.topic_boost)
    grammatical: tuple[int, ...] = ()  # particles, negations, adverbs: charged params.function_cost
    plan: tuple[tuple[int, ...], ...] = ()  # per line, its plan word's tokens to favour (params.plan_boost)
    line_ends: frozenset[int] = frozenset()  # the tokens that close a line, to know which line is being written
    avoid: tuple[int, ...] = ()  # tokens the poem should not hold (other seasons' names): AVOID_PENALTY
    word_starts: frozenset[int] = frozenset()  # where in a line a plan word may begin (its rhythm); empty: anywhere
    tokens: list[int] = field(default_factory=list)
    queued_s: float = 0.0  # how long its request waited in the batcher's queue before this row was sampled
    log_likelihood: float = 0.0  # of the tokens it chose; forced ones are the same in every candidate
    choices: int = 0
    _scanned: int = field(default=0, init=False, repr=False)  # tokens current_line has looked at
    _line: int = field(default=0, init=False, repr=False)
    _line_start: int = field(default=0, init=False, repr=False)

    def current_line(self) -> tuple[int, list[int]]:
        """The index of the line being written and its tokens so far; looks only at new tokens."""
        for token in self.tokens[self._scanned :]:
            self._scanned += 1
            if token in self.line_ends:
                self._line, self._line_start = self._line + 1, self._scanned
        return self._line, self.tokens[self._line_start :]

    @property
    def mean_log_likelihood(self) -> float:
        return self.log_likelihood / max(self.choices, 1)

    @property
    def finished(self) -> bool:
        return len(self.tokens) >= self.constraint.length

    def write_forced(self) -> list[int]:
        """Append the tokens the constraint forces from here on; returns them."""
        written = []
        while not self.finished and (token := self.constraint.forced(self.tokens)) is not None:
            self.tokens.append(token)
            written.append(token)
        return written


def _choose(logits: torch.Tensor, rows: list[Row], generators: list[torch.Generator]) -> list[int]:
    """One token for each row, from its row of logits (R, V).

    All rows at once: at batch 16 a row's choice made with its own dozen small tensor operations
    cost as much as the model's step (dispatch, not arithmetic), so the masks, penalties, top-k
    and softmax run once over the batch and only the rules stay a Python loop per row."""
    vocab = logits.shape[-1]
    allowed = torch.stack([row.constraint.allowed(row.tokens) for row in rows])  # (R, V)
    scores = torch.where(allowed, logits, -torch.inf).view(-1)  # (R·V,) row r's token t at r·V + t
    # the repetition penalty, before the additive terms: a written token's score shrinks towards 0
    seen = [
        (r * vocab + token, row.params.repetition_penalty)
        for r, row in enumerate(rows)
        if row.params.repetition_penalty != 1.0
        for token in row.tokens
    ]
    if seen:
        indices = _longs([index for index, _ in seen])  # repeats are harmless: each writes the same value
        penalties = _floats([penalty for _, penalty in seen])
        previous = scores[indices]
        scores[indices] = torch.where(previous > 0, previous / penalties, previous * penalties)
    added = [(r * vocab + token, value) for r, row in enumerate(rows) for token, value in _added(row)]
    if added:
        # on the CPU (the sampler's logits always are) index_add_ adds repeats one after another, as
        # the terms were written
        scores.index_add_(0, _longs([index for index, _ in added]), _floats([value for _, value in added]))
    scores = scores.view(len(rows), vocab)  # (R, V)
    # Rows of one top_k go through top-k and softmax together (usually the whole batch): taken to a
    # larger k and cut, a row would order its ties and round its softmax otherwise than alone.
    by_k: dict[int, list[int]] = {}
    for r, row in enumerate(rows):
        by_k.setdefault(min(row.params.top_k, vocab), []).append(r)  # fewer allowed: the rest are -inf, p = 0
    chosen = [0] * len(rows)
    for k, members in by_k.items():
        group = scores if len(members) == len(rows) else scores[members]  # (G, V)
        top_scores, top_ids = group.topk(k)  # (G, k), each row sorted
        temperatures = torch.tensor([[rows[r].params.temperature] for r in members])  # (G, 1)
        cumulative = torch.softmax(top_scores / temperatures, -1).cumsum(-1).tolist()  # G lists of k
        for r, row_cumulative, row_ids in zip(members, cumulative, top_ids.tolist()):
            # top-p: the likeliest tokens until their mass reaches top_p, the one that crosses it included
            kept = min(bisect_left(row_cumulative, rows[r].params.top_p) + 1, k)
            # an inverse-CDF draw over 40 numbers in Python: torch.multinomial cost more than the rest of the choice
            drawn = float(torch.rand((), generator=generators[r])) * row_cumulative[kept - 1]
            chosen[r] = row_ids[min(bisect_right(row_cumulative, drawn), kept - 1)]
    return chosen


# torch.tensor reads a Python list one number at a time (800 numbers: 0.14 ms); numpy copies it 5x faster
def _longs(values: list[int]) -> torch.Tensor:
    return torch.from_numpy(np.array(values, dtype=np.int64))


def _floats(values: list[float]) -> torch.Tensor:
    return torch.from_numpy(np.array(values, dtype=np.float32))


def _added(row: Row) -> list[tuple[int, float]]:
    """What is added to the row's scores this step, term by term (a term names a token once)."""
    params, added = row.params, []
    if row.tokens and params.repeat_cost:
        added += [(token, -params.repeat_cost) for token in row.tokens]  # a token written twice is charged twice
    if row.theme and params.theme_boost and not any(token in row.tokens for token in row.theme):
        added += _each_once(row.theme, params.theme_boost)
    if row.topic and params.topic_boost:
        added += _each_once(row.topic, params.topic_boost)
    if row.grammatical and params.function_cost:
        added += _each_once(row.grammatical, -params.function_cost)
    if row.theme_word and params.theme_boost and not _holds(row.tokens, row.theme_word):
        added += _theme_word_boost(row, params.theme_boost)
    if row.plan and params.plan_boost:
        added += _plan_word_boost(row, params.plan_boost)
    if row.avoid:
        added += _each_once(row.avoid, -AVOID_PENALTY)
    return added


def _each_once(tokens: tuple[int, ...], value: float) -> list[tuple[int, float]]:
    """`value` for each of these tokens, once however often it is named (as scores[list(tokens)] += value)."""
    return [(token, value) for token in dict.fromkeys(tokens)]


def _holds(tokens: list[int], word: tuple[int, ...]) -> bool:
    return any(tuple(tokens[i : i + len(word)]) == word for i in range(len(tokens) - len(word) + 1))


def _begun(written: list[int], word: tuple[int, ...]) -> int:
    """How many of the word's first characters the line ends on (0: none)."""
    return next((k for k in range(len(word) - 1, 0, -1) if tuple(written[-k:]) == word[:k]), 0)


def _theme_word_boost(row: Row, boost: float) -> list[tuple[int, float]]:
    """The theme word favoured as a whole (_word_boost), but kept off a line that already holds one of its
    characters: favoured there it wrote 湖上西湖, 城上长城, 秋色中秋. A plan word is not kept off: it is its
    line's to write. Nor is it pressed into the closing line (`theme_word_until`), where a poem that had not
    written it yet ended 留与诗人咏史公, 唯有闺怨在."""
    line, written = row.current_line()
    if row.theme_word_until is not None and line >= row.theme_word_until:
        return []
    if not _begun(written, row.theme_word) and any(token in written for token in row.theme_word):
        return [(row.theme_word[0], -boost)]
    return _word_boost(row, row.theme_word, boost)


def _plan_word_boost(row: Row, boost: float) -> list[tuple[int, float]]:
    line, written = row.current_line()
    if line < len(row.plan) and row.plan[line] and not _holds(written, row.plan[line]):
        return _word_boost(row, row.plan[line], boost)
    return []


def _word_boost(row: Row, word: tuple[int, ...], boost: float) -> list[tuple[int, float]]:
    """Favour a word as a whole, where the line's rhythm lets a word begin (五言 reads 2+3, 七言
    2+2+3: 梧桐 on the second and third slots reads 平梧 桐绿城): its first character where the rest
    can follow it (not on the line's last slot, nor where the tones or the rhyme forbid the second),
    and right after a first part of it, the next character."""
    _, written = row.current_line()
    part = _begun(written, word)
    if part:
        if not row.word_starts or len(written) - part in row.word_starts:
            return [(word[part], WORD_COMPLETION_BOOST)]
        return []
    if row.word_starts and len(written) not in row.word_starts:
        return []
    if len(word) > 1:
        ahead = [*row.tokens, word[0]]
        if row.constraint.forced(ahead) is not None or not row.constraint.allowed(ahead)[word[1]]:
            return []
    return [(word[0], boost)]


@torch.inference_mode()
def sample(backend: Backend, rows: list[Row], pad_id: int) -> list[Row]:
    """Fill in `tokens` and `log_likelihood` of every row; returns the rows."""
    starts = [row.prompt + row.write_forced() for row in rows]
    width = max(len(tokens) for tokens in starts)
    pad_lengths = torch.tensor([width - len(tokens) for tokens in starts])
    input_ids = torch.tensor([[pad_id] * (width - len(tokens)) + tokens for tokens in starts])
    generators = [torch.Generator().manual_seed(row.seed) for row in rows]
    logits = backend.prefill(input_ids, pad_lengths).float()  # (B, V)
    unfed: list[list[int]] = [[] for _ in rows]  # tokens a row has written and the model not yet seen
    batch = list(range(len(rows)))  # the rows in the backend's batch, in its order (finished ones are dropped)
    while True:
        # the rows neither idle nor with their next token already known, by their place in the batch
        choosing = [place for place, index in enumerate(batch) if not rows[index].finished and not unfed[index]]
        if choosing:
            choosing_logits = logits[choosing]  # (R, V)
            choosing_rows = [batch[place] for place in choosing]
            chosen = _choose(choosing_logits, [rows[i] for i in choosing_rows], [generators[i] for i in choosing_rows])
            log_probs = torch.log_softmax(choosing_logits, -1)  # (R, V)
            chosen_log_probs = log_probs[torch.arange(len(choosing)), torch.tensor(chosen)].tolist()  # R numbers
            for index, token, log_prob in zip(choosing_rows, chosen, chosen_log_probs):
                row = rows[index]
                row.tokens.append(token)
                row.log_likelihood += log_prob
                row.choices += 1
                forced = row.write_forced()
                unfed[index] = [] if row.finished else [token, *forced]
        unfinished = [place for place, index in enumerate(batch) if not rows[index].finished]
        if not unfinished:
            return rows
        # A finished row rides along, padded, in every later step: in a batch of several forms (a burst of
        # requests) the 绝句' rows would idle through half of a 七律's steps. Dropping a quarter of the batch
        # or more costs one copy of the cache and saves more than that in the steps after it.
        if 4 * (len(batch) - len(unfinished)) >= len(batch):
            backend.keep(torch.tensor(unfinished))
            batch = [batch[place] for place in unfinished]
        # rows in step (candidates of one form) feed a character and its mark together; the rest catch up
        count = min(len(unfed[index]) for index in batch if not rows[index].finished)
        step = [[pad_id] * count if rows[index].finished else unfed[index][:count] for index in batch]
        for index in batch:
            unfed[index] = unfed[index][count:]
        logits = backend.step(torch.tensor(step)).float()
