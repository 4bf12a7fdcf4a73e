"""One token per character, plus the special tokens of engine.prompts.

Built with `tokenizers` (WordLevel over single characters) and wrapped as a
`PreTrainedTokenizerFast`, so `AutoTokenizer.from_pretrained(dir)` (and vLLM, CTranslate2)
load the saved `tokenizer.json`. Traditional input is converted to simplified by `encode`
here, before the tokenizer sees it: the vocabulary holds simplified characters only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import cast

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from engine.prompts import BOS, EOS, KEYWORD_JOIN, LINE_ENDS, PAD, SPECIAL_TOKENS, UNK
from engine.text import to_simplified


def build_tokenizer(texts: Iterable[str], coverage: float = 0.999) -> PreTrainedTokenizerFast:
    """The most frequent characters that together cover `coverage` of all character occurrences."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(text)
    total = sum(counts.values())
    chars, covered = [], 0
    for char, count in counts.most_common():
        if total and covered / total >= coverage:
            break
        chars.append(char)
        covered += count
    always = [c for c in (*LINE_ENDS, KEYWORD_JOIN) if c not in chars]
    vocab = {token: i for i, token in enumerate([*SPECIAL_TOKENS, *always, *sorted(chars)])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    core.add_special_tokens(SPECIAL_TOKENS)
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        additional_special_tokens=SPECIAL_TOKENS[4:],
    )


def load_tokenizer(path: Path | str) -> PreTrainedTokenizerFast:
    # our folders hold a tokenizer.json, which AutoTokenizer always loads as the fast tokenizer
    return cast(PreTrainedTokenizerFast, AutoTokenizer.from_pretrained(str(path)))


def add_missing_special_tokens(tokenizer: PreTrainedTokenizerFast) -> int:
    """Append the special tokens an older tokenizer lacks (ids after every existing one);
    returns how many were added, so the caller can resize the model's embeddings."""
    missing = [token for token in SPECIAL_TOKENS if token not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"extra_special_tokens": [*tokenizer.extra_special_tokens, *missing]})
    return len(missing)


def encode(tokenizer: PreTrainedTokenizerFast, text: str) -> list[int]:
    return tokenizer.encode(to_simplified(text), add_special_tokens=False)
