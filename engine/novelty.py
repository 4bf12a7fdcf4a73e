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
# In every filter this module writes, and no corpus line: a file without it (another file, one cut
# short, random bytes) is refused rather than read as a filter that lets copied lines through.
SENTINEL = "〈联句语料行过滤器〉"


class CorpusLinesError(ValueError):
    pass


def line_hash(line: str) -> int:
    # Python's own hash() is salted per process; a filter saved to disk needs a stable one.
    return int.from_bytes(hashlib.blake2b(line.encode("utf-8"), digest_size=16).digest(), "big", signed=True)


class CorpusLines:
    def __init__(self, bloom: Bloom):
        self.bloom = bloom

    @classmethod
    def build(cls, lines: Iterable[str], count: int) -> CorpusLines:
        bloom = Bloom(max(count, 1) + 1, FALSE_POSITIVE_RATE, line_hash)
        bloom.update(lines)
        bloom.add(SENTINEL)
        return cls(bloom)

    @classmethod
    def load(cls, path: Path) -> CorpusLines:
        try:
            bloom = Bloom.load(str(path), line_hash)
        except (OSError, ValueError) as error:
            raise CorpusLinesError(f"{path} is not a filter of corpus lines ({error})") from None
        # a real filter holds its sentinel and almost no line it was not given (zeros hold everything)
        strangers = sum(f"{SENTINEL}{number}" in bloom for number in range(8))
        if SENTINEL not in bloom or strangers > 2:
            raise CorpusLinesError(f"{path} is not a whole filter of corpus lines (one `lianju corpus build` writes)")
        return cls(bloom)

    def save(self, path: Path) -> None:
        self.bloom.save(str(path))

    def __contains__(self, line: object) -> bool:  # object, as Container[str] declares it; line_hash takes a str
        return line in self.bloom
