"""How real lines end: for each character, the characters real 近体 lines put after it in their last slot.

The sampler writes a line's last character under the hardest rules of the poem (a rhyme of one
group, not used before), but chooses the character before it blind to them. When the model's
favourite goes on into no rhyme of the group, the rhyme is forced onto a character that does not
follow it: 徘 then 娟 (徘娟 is no word), and readers mark such lines. Rhyming lines were marked
27% of the time against 13% for the others (bench/RESULTS.md, session 11), and the lower the
model's own chance of the forced rhyme, the likelier the mark (16% above e^-2, 87% below e^-8).

So at a line's second-to-last slot the sampler looks one character ahead: each candidate is
weighed by the chance that a real line, having it there, ends on a character the last slot allows
(`EndingLookahead.log_chance`). Counting the corpus answers that in microseconds; asking the model
would cost a step of it per candidate, and a 七律 has no time left for that.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.text import is_han

ENDINGS_FILE = "line_endings.json.gz"
SHIPPED_ENDINGS = Path(__file__).with_name("weights") / ENDINGS_FILE
# Lines ending on a pair seen fewer times are left out of the shipped counts: the rarest pairs are
# most of the file and barely move a chance.
MIN_PAIR_COUNT = 2
# Pseudo-lines, at the corpus-wide rate of endings the slot allows, added to each character's own:
# a character seen second-to-last in three lines says little about how lines go on from it.
PRIOR_LINES = 5.0


@dataclass
class LineEndings:
    pairs: dict[str, dict[str, int]]  # second-to-last character → last character → lines ending so

    def save(self, path: Path) -> None:
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            json.dump(self.pairs, handle, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def load(cls, path: Path) -> LineEndings:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return cls(json.load(handle))


def build_line_endings(records: Iterable[dict]) -> LineEndings:
    """Count the last two characters of every line of these poem records (all splits: like the
    corpus's Bloom filter, this is knowledge of the language, not a test set)."""
    counts: Counter[tuple[str, str]] = Counter()
    for record in records:
        for line in record["lines"]:
            if len(line) >= 2 and is_han(line[-2]) and is_han(line[-1]):
                counts[line[-2], line[-1]] += 1
    pairs: defaultdict[str, dict[str, int]] = defaultdict(dict)
    for (before, last), count in sorted(counts.items()):
        if count >= MIN_PAIR_COUNT:
            pairs[before][last] = count
    return LineEndings(dict(pairs))


class EndingLookahead:
    """The counts of LineEndings as one tokenizer's ids, in compressed sparse rows: row t holds the
    last characters that follow token t, and how many lines end so."""

    def __init__(self, endings: LineEndings, ids: dict[str, int], size: int):
        rows: list[list[tuple[int, int]]] = [[] for _ in range(size)]
        for before, followers in endings.pairs.items():
            if before in ids:
                rows[ids[before]] = [(ids[last], n) for last, n in followers.items() if last in ids]
        lengths = torch.tensor([len(row) for row in rows])  # (V,)
        self.row_starts = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])  # (V+1,)
        flat = [pair for row in rows for pair in row]
        self.followers = torch.tensor([last for last, _ in flat], dtype=torch.long)  # (pairs,)
        self.counts = torch.tensor([n for _, n in flat], dtype=torch.float)  # (pairs,)
        self.row_totals = torch.zeros(size).index_add_(  # (V,) lines with token t second-to-last
            0, torch.repeat_interleave(torch.arange(size), lengths), self.counts
        )
        self.last_share = torch.zeros(size).index_add_(0, self.followers, self.counts)  # (V,)
        self.last_share /= self.last_share.sum().clamp(min=1.0)  # share of lines ending on each token

    @classmethod
    def load(cls, path: Path, ids: dict[str, int], size: int) -> EndingLookahead:
        return cls(LineEndings.load(path), ids, size)

    def log_chance(self, candidates: torch.Tensor, allowed_last: torch.Tensor) -> torch.Tensor:
        """For each candidate token of a line's second-to-last slot, the log of the chance that the
        line then ends on a token of `allowed_last` (a boolean mask over the vocabulary)."""
        starts = self.row_starts[candidates]  # (k,)
        lengths = self.row_starts[candidates + 1] - starts  # (k,)
        # the flat position of every follower of every candidate, candidate by candidate
        offsets = torch.repeat_interleave(starts - (lengths.cumsum(0) - lengths), lengths)  # (n,)
        positions = offsets + torch.arange(len(offsets))  # (n,)
        fitting = self.counts[positions] * allowed_last[self.followers[positions]]  # (n,) lines whose end is allowed
        owner = torch.repeat_interleave(torch.arange(len(candidates)), lengths)  # (n,)
        hits = torch.zeros(len(candidates)).index_add_(0, owner, fitting)  # (k,)
        prior = float(self.last_share[allowed_last].sum())  # the chance for a character never seen there
        chance = (hits + PRIOR_LINES * prior) / (self.row_totals[candidates] + PRIOR_LINES)  # (k,)
        return chance.clamp(min=1e-6).log()
