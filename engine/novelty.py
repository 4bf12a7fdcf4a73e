"""Is this line in the corpus? A Bloom filter of every distinct corpus line.

2.8 million lines fit in about 5 MB at 0.1% false positives, so the filter ships beside the model
(engine/weights/corpus_lines.bloom) and the poet can refuse copied lines with or without a built
corpus. A false positive only makes the poet pass over an original line now and then.
`lianju corpus build` writes a fresh one into the corpus folder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from rbloom import Bloom

FALSE_POSITIVE_RATE = 0.001


def line_hash(line: str) -> int:
    # Python's own hash() is salted per process; a filter saved to disk needs a stable one.
    return int.from_bytes(hashlib.blake2b(line.encode("utf-8"), digest_size=16).digest(), "big", signed=True)


class CorpusLines:
    def __init__(self, bloom: Bloom):
        self.bloom = bloom

    @classmethod
    def build(cls, lines: Iterable[str], count: int) -> CorpusLines:
        bloom = Bloom(max(count, 1), FALSE_POSITIVE_RATE, line_hash)
        bloom.update(lines)
        return cls(bloom)

    @classmethod
    def load(cls, path: Path) -> CorpusLines:
        return cls(Bloom.load(str(path), line_hash))

    def save(self, path: Path) -> None:
        self.bloom.save(str(path))

    def __contains__(self, line: object) -> bool:  # object, as Container[str] declares it; line_hash takes a str
        return line in self.bloom
