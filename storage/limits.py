"""The limits of what storage accepts, and the checks that enforce them at the repository boundary.

Text is stored exactly as given (no trimming, no Unicode normalisation), so emoji, quotes and
SQL-looking strings round-trip unchanged; what cannot be stored faithfully everywhere, or would
not fit in a Discord message, is refused with an `InvalidInput` that names the field and limit.
"""

from __future__ import annotations

import json
import math
import unicodedata
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from storage.errors import InvalidInput

# A Discord message holds 2,000 characters; a poem must fit in one with room for its title line.
POEM_TEXT_MAX = 1_800
POEM_LINES_MAX = 100
LINE_MAX = 100  # one line of a poem or one game turn; 词 lines are far shorter
DISPLAY_NAME_MAX = 100  # Discord allows 32; nicknames from other sources get some room
THEME_MAX = 100
ACROSTIC_MAX = POEM_LINES_MAX
SHORT_LABEL_MAX = 32  # form, locale, rhyme group, 飞花令 keyword
REASON_MAX = 500
MODEL_NAME_MAX = 64
PATH_MAX = 1_024
TIMEZONE_MAX = 64
JSON_MAX_BYTES = 16_384  # sampling parameters, prosody scores, metrics, gates
DETAIL_MAX = 10_000  # a fine-tune run's failure message
STARS_MIN, STARS_MAX = 1, 5
SNOWFLAKE_MAX = 2**63 - 1  # Discord ids are unsigned 64-bit but stay below 2**63 until 2084
TURN_SECONDS_MAX = 24 * 3600


def text(field: str, value: object, max_chars: int, *, multiline: bool = False) -> str:
    """`value` unchanged if it is non-blank text within `max_chars` without control characters."""
    if not isinstance(value, str):
        raise InvalidInput(field, f"expected text, got {type(value).__name__}")
    if not value.strip():
        raise InvalidInput(field, "is empty")
    if len(value) > max_chars:
        raise InvalidInput(field, f"is {len(value):,} characters long; the limit is {max_chars:,}")
    for position, char in enumerate(value):
        category = unicodedata.category(char)
        if category == "Cs":
            raise InvalidInput(field, f"is not valid Unicode (a lone surrogate at position {position})")
        if category == "Cc" and not (multiline and char == "\n"):
            raise InvalidInput(field, f"contains the control character U+{ord(char):04X} at position {position}")
    return value


def optional_text(field: str, value: object, max_chars: int) -> str | None:
    return None if value is None else text(field, value, max_chars)


def poem_lines(value: object) -> list[str]:
    """The lines of a poem: 1 to POEM_LINES_MAX single lines, POEM_TEXT_MAX characters in all."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise InvalidInput("lines", "expected a list of lines")
    if not 1 <= len(value) <= POEM_LINES_MAX:
        raise InvalidInput("lines", f"has {len(value)} lines; a poem has 1 to {POEM_LINES_MAX}")
    lines = [text(f"lines[{number}]", line, LINE_MAX) for number, line in enumerate(value)]
    total = sum(map(len, lines)) + len(lines) - 1
    if total > POEM_TEXT_MAX:
        raise InvalidInput("lines", f"are {total:,} characters long in all; the limit is {POEM_TEXT_MAX:,}")
    return lines


def snowflake(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= SNOWFLAKE_MAX:
        raise InvalidInput(field, f"expected a Discord id (an integer from 1 to {SNOWFLAKE_MAX}), got {value!r}")
    return value


def optional_snowflake(field: str, value: object) -> int | None:
    return None if value is None else snowflake(field, value)


def integer(field: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(field, f"expected an integer from {low} to {high}, got {value!r}")
    return value


def stars(value: object) -> int:
    return integer("stars", value, STARS_MIN, STARS_MAX)


def json_object(field: str, value: object) -> dict[str, Any]:
    """A dict that every database stores the same way: finite numbers, text keys, JSON_MAX_BYTES."""
    if not isinstance(value, dict):
        raise InvalidInput(field, f"expected a JSON object (dict), got {type(value).__name__}")
    try:
        encoded = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as error:
        raise InvalidInput(field, f"is not plain JSON ({error})") from None
    if _holds_nul(value):
        raise InvalidInput(field, "contains the character U+0000, which PostgreSQL cannot store in text")
    try:
        size = len(encoded.encode("utf-8"))
    except UnicodeEncodeError as error:  # a lone surrogate, which no database's text can hold
        raise InvalidInput(field, f"is not valid Unicode ({error.reason} at position {error.start})") from None
    if size > JSON_MAX_BYTES:
        raise InvalidInput(field, f"is {size:,} bytes as JSON; the limit is {JSON_MAX_BYTES:,}")
    return value


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return any(map(_holds_nul, value))
    return False


def aware(field: str, value: object) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput(field, f"expected a datetime with a time zone, got {value!r}")
    return value


@cache
def _zone_names() -> frozenset[str]:
    # What ZoneInfo would load is wider: the host's `localtime` (which moves with the host), tzdata's
    # `Factory` placeholder, `posixrules`, the right/ and posix/ copies. None is a zone to post in.
    return frozenset(available_timezones() - {"localtime", "Factory"})


def is_timezone(name: str) -> bool:
    """Whether `name` is an IANA time zone (Asia/Shanghai, UTC, Etc/GMT-14), not a region's folder
    (Asia) or a file of the host's."""
    return name in _zone_names()


def timezone_name(value: object) -> str:
    name = text("timezone", value, TIMEZONE_MAX)
    if not is_timezone(name):
        raise InvalidInput("timezone", f"{name!r} is not an IANA time zone such as Asia/Shanghai")
    return name


def finite(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInput(field, f"expected a finite number, got {value!r}")
    return float(value)
