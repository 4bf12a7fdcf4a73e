"""Text hygiene shared by the corpus builder, the prosody checker and user input.

Everything that reaches the engine goes through here: traditional characters become
simplified (OpenCC t2s), invisible characters disappear, and a poem is split into lines.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

import opencc

# Grammatical characters: particles, pronouns, negations and adverbs, which carry a line's syntax and
# none of its images. The yardsticks leave them out of co-occurrence (that 不 and 有 share a poem says
# nothing of what it is about); the poet charges them in a 律诗 written without plan words.
GRAMMATICAL_CHARS = "之乎者也矣焉哉兮而以于於其与亦又且则乃所此彼是为不无有何谁自已未将莫皆更犹但只却还可能欲若如似"

# Punctuation that ends a line (句) in classical verse, full- and half-width.
LINE_BREAKS = "，。？！；：、,.?!;:\n\r\t \u3000"  # \u3000: the full-width space Chinese keyboards type
_LINE_SPLIT = re.compile(f"[{re.escape(LINE_BREAKS)}]+")

# Han ideographs: the basic block, extension A, the compatibility block, and the
# supplementary planes (extensions B-H), which the Song corpus uses for rare characters.
_HAN_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x323AF),
)


def is_han(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _HAN_RANGES)


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _s2t() -> opencc.OpenCC:
    return opencc.OpenCC("s2t")


@lru_cache(maxsize=1)
def _s2twp() -> opencc.OpenCC:
    return opencc.OpenCC("s2twp")


# Rhyme groups of the 平水韵 keep the book's own characters: OpenCC reads 肴 as 餚 (dishes), 咸 as 鹹
# (salty), 个 as 個, where the book has 肴, 咸, 箇; and writes 篠 simplified as 筿, where the name is 筱.
_BOOK_NAMES = {
    "平聲三餚": "平聲三肴",
    "平聲十五鹹": "平聲十五咸",
    "去聲二十一個": "去聲二十一箇",
    "上聲十七筱": "上聲十七篠",
}
_BOOK_NAMES_SIMPLIFIED = {"上声十七筿": "上声十七筱"}


def _replacing(table: dict[str, str]) -> Callable[[str], str]:
    """A function that replaces every key of `table` found in a text by its value."""
    pattern = re.compile("|".join(map(re.escape, table)))
    return lambda text: pattern.sub(lambda found: table[found[0]], text)


_book_names, _book_names_simplified = _replacing(_BOOK_NAMES), _replacing(_BOOK_NAMES_SIMPLIFIED)


def to_simplified(text: str) -> str:
    return _book_names_simplified(_t2s().convert(text))


def to_traditional(text: str) -> str:
    return _book_names(_s2t().convert(text))


# Where s2twp's phrases miss in the bot's words: 权限 is 權限 in Discord's zh-TW, not 許可權; 注册表 (the
# models' registry) is not Windows's 登錄檔; Discord says 斜線指令 for slash commands.
_taiwan_words = _replacing({"許可權": "權限", "登錄檔": "註冊表", "斜槓命令": "斜線指令"})


def to_taiwan(text: str) -> str:
    """Traditional characters and Taiwan's words (服务器 → 伺服器, 设置 → 設定, 默认 → 預設): for
    what the bot says to zh-TW readers. Poems keep their words and go through to_traditional."""
    return _book_names(_taiwan_words(_s2twp().convert(text)))


def strip_invisible(text: str) -> str:
    """Drop zero-width and control characters (keeping line breaks), which users paste by accident,
    and lone surrogates (half an emoji, cut by a client), which no text encoding can write."""
    return "".join(char for char in text if char in "\n\r\t" or unicodedata.category(char) not in ("Cc", "Cf", "Cs"))


def undecodable(text: str) -> bool:
    """Whether `text` holds lone surrogates: what Python makes of bytes that are not UTF-8 in argv
    and a POSIX locale's stdin (surrogateescape). strip_invisible would drop them unseen."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def split_lines(text: str) -> list[str]:
    """Split a poem into its lines at punctuation and line breaks."""
    return [line for line in _LINE_SPLIT.split(text) if line]


def non_han(text: str) -> list[str]:
    """The distinct characters of `text` that are neither Han nor line punctuation, in order."""
    seen: dict[str, None] = {}
    for char in text:
        if char not in LINE_BREAKS and not is_han(char):
            seen.setdefault(char)
    return list(seen)
