"""What storage raises. Every message says what was wrong and, where there is one, the limit."""

from __future__ import annotations


class StorageError(Exception):
    """Base of everything storage raises on purpose."""


class InvalidInput(StorageError, ValueError):
    """A value was refused at the repository boundary, before it reached the database."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class NotFound(StorageError, LookupError):
    """The poem, game, model version … asked for does not exist."""


class Conflict(StorageError):
    """The request clashes with the current state: a second game in a channel, a retired model promoted …"""


class SchemaOutOfDate(StorageError):
    """The database is not at the revision this code expects (see `lianju db upgrade`)."""

    def __init__(self, current: str | None, expected: str, hint: str) -> None:
        super().__init__(
            f"the database schema is at revision {current or '(empty database)'}, "
            f"this version of Lianju expects {expected}; {hint}"
        )
        self.current = current
        self.expected = expected
