"""What every aggregate's queries share: dialect-aware upserts, lookups that raise NotFound, enum parsing."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.errors import InvalidInput, NotFound
from storage.models import Base

ModelT = TypeVar("ModelT", bound=Base)
EnumT = TypeVar("EnumT", bound=Enum)


def dialect_insert(session: AsyncSession, model: type[Base]):
    """INSERT with ON CONFLICT for the session's dialect (both spell it the same way)."""
    dialect = session.get_bind().dialect.name
    return {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect](model)


async def get_or_raise(session: AsyncSession, model: type[ModelT], key: object, what: str) -> ModelT:
    row = await session.get(model, key)
    if row is None:
        raise NotFound(f"{what} {key} does not exist")
    return row


def parse_enum(field: str, cls: type[EnumT], value: object) -> EnumT:
    try:
        return cls(value)
    except ValueError:
        choices = ", ".join(member.value for member in cls)
        raise InvalidInput(field, f"{value!r} is not one of: {choices}") from None
