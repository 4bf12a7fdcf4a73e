"""Daily posts: one poem per guild and local day, claimed before it is written."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import limits
from storage.errors import Conflict, InvalidInput
from storage.models import DailyPost, Guild, utcnow
from storage.repo.common import dialect_insert, get_or_raise
from storage.repo.poems import get_poem

# A claim never posted is taken over once this old: the process that made it died.
DAILY_CLAIM_STALE = timedelta(minutes=30)


async def claim_daily_post(
    session: AsyncSession, guild_id: int, local_date: date, *, stale_after: timedelta = DAILY_CLAIM_STALE
) -> DailyPost | None:
    """Claim the guild's post for `local_date`; None when another process has it.

    Commit the claim in its own unit of work before writing the poem. A claim that was never
    completed (the claimer died) can be taken over once it is older than `stale_after`.
    """
    guild_id = limits.snowflake("guild id", guild_id)
    if not isinstance(local_date, date) or isinstance(local_date, datetime):
        raise InvalidInput("local_date", f"expected a date, got {local_date!r}")
    await get_or_raise(session, Guild, guild_id, "guild")
    now = utcnow()
    claimed = await session.scalar(
        dialect_insert(session, DailyPost)
        .values(guild_id=guild_id, local_date=local_date, claimed_at=now)
        .on_conflict_do_nothing(index_elements=[DailyPost.guild_id, DailyPost.local_date])
        .returning(DailyPost.id)
    )
    if claimed is None:
        claimed = await session.scalar(
            update(DailyPost)
            .where(
                DailyPost.guild_id == guild_id,
                DailyPost.local_date == local_date,
                DailyPost.posted_at.is_(None),
                DailyPost.claimed_at < now - stale_after,
            )
            .values(claimed_at=now)
            .returning(DailyPost.id)
        )
    return None if claimed is None else await session.get(DailyPost, claimed, populate_existing=True)


async def complete_daily_post(session: AsyncSession, post_id: int, poem_id: int, message_id: int) -> DailyPost:
    post = await get_or_raise(session, DailyPost, post_id, "daily post")
    if post.posted_at is not None:
        raise Conflict(f"the daily post of guild {post.guild_id} for {post.local_date} is already posted")
    await get_poem(session, poem_id)
    post.poem_id = poem_id
    post.message_id = limits.snowflake("message_id", message_id)
    post.posted_at = utcnow()
    await session.flush()
    return post


async def release_daily_post(session: AsyncSession, post_id: int) -> None:
    """Give up a claim whose poem could not be posted (the channel gone, a permission missing), so
    that the day can still be posted once that is fixed. A post already made stays."""
    await session.execute(delete(DailyPost).where(DailyPost.id == post_id, DailyPost.posted_at.is_(None)))


async def unposted_daily_claims(session: AsyncSession) -> list[DailyPost]:
    """Claims never completed nor released: a process died between claiming a day and posting it."""
    return list(await session.scalars(select(DailyPost).where(DailyPost.posted_at.is_(None)).order_by(DailyPost.id)))
