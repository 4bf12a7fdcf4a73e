"""People: Discord users as they act, and forgetting one on request."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from storage import limits
from storage.models import Base, GamePlayer, GameTurn, Poem, PoemAuthor, PoemOrigin, Rating, Script, User, utcnow
from storage.repo.common import dialect_insert, parse_enum


@dataclass(frozen=True)
class DiscordUser:
    """A person as Discord shows them; written to `users` whenever they act."""

    id: int
    display_name: str

    def __post_init__(self) -> None:
        limits.snowflake("user id", self.id)
        limits.text("display_name", self.display_name, limits.DISPLAY_NAME_MAX)


async def upsert_user(session: AsyncSession, user: DiscordUser, *, script: Script | str | None = None) -> User:
    """Create the user or refresh their display name (and preferred script, when given)."""
    now = utcnow()
    values: dict[str, Any] = {"display_name": user.display_name, "updated_at": now}
    if script is not None:
        values["script"] = parse_enum("script", Script, script)
    statement = dialect_insert(session, User).values(id=user.id, created_at=now, **values)
    statement = statement.on_conflict_do_update(index_elements=[User.id], set_=values).returning(User)
    return (await session.scalars(statement, execution_options={"populate_existing": True})).one()


async def upsert_users(session: AsyncSession, users: Sequence[DiscordUser | None]) -> None:
    for user in {user.id: user for user in users if user is not None}.values():
        await upsert_user(session, user)


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, limits.snowflake("user id", user_id))


async def existing_users(session: AsyncSession, user_ids: Iterable[int]) -> set[int]:
    """Which of these people are still known (not forgotten)."""
    wanted, found = sorted(set(user_ids)), set()
    for start in range(0, len(wanted), 1000):  # under every database's limit on bound parameters
        found |= set(await session.scalars(select(User.id).where(User.id.in_(wanted[start : start + 1000]))))
    return found


@dataclass(frozen=True)
class ForgetReport:
    """What `forget_user` did; all zeros when the user was unknown."""

    ratings_deleted: int = 0
    poems_deleted: int = 0  # poems they submitted themselves
    poems_unlinked: int = 0  # poems they asked the bot for: kept, no longer theirs
    lines_anonymised: int = 0  # their lines in collaborative poems: kept, author removed
    turns_anonymised: int = 0
    games_left: int = 0


async def forget_user(session: AsyncSession, user_id: int) -> ForgetReport:
    """Delete what is only theirs and anonymise what they made with others.

    Deleted: their profile, their ratings, the poems they submitted (origin user), their seats in
    games. Kept without their name: poems the bot wrote for them, their lines in collaborative
    poems, their game turns (other people's poems and games would break without them).
    """
    limits.snowflake("user id", user_id)
    if await session.get(User, user_id) is None:
        return ForgetReport()

    async def count(model: type[Base], *conditions: ColumnElement[bool]) -> int:
        return (await session.execute(select(func.count()).select_from(model).where(*conditions))).scalar_one()

    own_poem = and_(Poem.requester_id == user_id, Poem.origin == PoemOrigin.USER)
    report = ForgetReport(
        ratings_deleted=await count(Rating, Rating.user_id == user_id),
        poems_deleted=await count(Poem, own_poem),
        poems_unlinked=await count(Poem, Poem.requester_id == user_id, Poem.origin != PoemOrigin.USER),
        lines_anonymised=await count(
            PoemAuthor,
            PoemAuthor.user_id == user_id,
            ~PoemAuthor.poem_id.in_(select(Poem.id).where(own_poem)),
        ),
        turns_anonymised=await count(GameTurn, GameTurn.player_id == user_id),
        games_left=await count(GamePlayer, GamePlayer.user_id == user_id),
    )
    await session.execute(delete(Poem).where(own_poem))
    # The foreign keys do the rest: ratings and seats cascade, requester and authors become NULL.
    await session.execute(delete(User).where(User.id == user_id))
    # The database changed rows behind the ORM's back; objects still in the session are stale.
    session.expunge_all()
    return report
