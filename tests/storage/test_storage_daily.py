"""The daily poem: a guild's day is claimed by exactly one process, once."""

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from storage import repo
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import DailyPost, PoemOrigin

GUILD = 4_000_000_001
DAY = date(2026, 11, 22)


async def configured_guild(db, guild_id=GUILD):
    async with db.unit_of_work() as session:
        return await repo.configure_guild(session, guild_id, daily_channel_id=77, timezone="Asia/Taipei")


async def claim(db, guild_id=GUILD, day=DAY):
    async with db.unit_of_work() as session:
        return await repo.claim_daily_post(session, guild_id, day)


async def test_a_day_is_claimed_once_per_guild(db):
    await configured_guild(db)
    await configured_guild(db, GUILD + 1)
    first = await claim(db)
    assert first is not None and (first.guild_id, first.local_date, first.posted_at) == (GUILD, DAY, None)
    assert await claim(db) is None
    assert await claim(db, day=DAY + timedelta(days=1)) is not None
    assert await claim(db, guild_id=GUILD + 1) is not None


@pytest.mark.parametrize("claimers", [2, 10])
async def test_concurrent_claims_have_exactly_one_winner(db, claimers):
    await configured_guild(db)
    results = await asyncio.gather(*(claim(db) for _ in range(claimers)))
    winners = [result for result in results if result is not None]
    assert len(winners) == 1
    async with db.unit_of_work() as session:
        assert list(await session.scalars(select(DailyPost.id))) == [winners[0].id]


async def age_claim(db, post_id, hours):
    async with db.unit_of_work() as session:
        await session.execute(
            update(DailyPost)
            .where(DailyPost.id == post_id)
            .values(claimed_at=datetime.now(UTC) - timedelta(hours=hours))
        )


async def test_an_abandoned_claim_is_taken_over_once_it_is_stale(db):
    await configured_guild(db)
    abandoned = await claim(db)
    assert await claim(db) is None  # still fresh: the claimer may be writing the poem
    await age_claim(db, abandoned.id, hours=2)
    takers = await asyncio.gather(claim(db), claim(db))
    taken = [taker for taker in takers if taker is not None]
    assert len(taken) == 1 and taken[0].id == abandoned.id
    assert taken[0].claimed_at > datetime.now(UTC) - timedelta(minutes=1)


async def test_a_posted_day_is_never_claimed_again(db):
    await configured_guild(db)
    post = await claim(db)
    async with db.unit_of_work() as session:
        poem = await repo.save_poem(session, repo.NewPoem(lines=["春眠不觉晓"], form="other", origin=PoemOrigin.DAILY))
        done = await repo.complete_daily_post(session, post.id, poem.id, 555)
    assert (done.poem_id, done.message_id) == (poem.id, 555) and done.posted_at is not None
    await age_claim(db, post.id, hours=48)
    assert await claim(db) is None
    left = await claim(db, day=DAY + timedelta(days=1))  # claimed, never posted: a killed process left it
    async with db.unit_of_work() as session:
        assert [post.id for post in await repo.unposted_daily_claims(session)] == [left.id]
    async with db.unit_of_work() as session:
        with pytest.raises(Conflict, match="already posted"):
            await repo.complete_daily_post(session, post.id, poem.id, 556)


async def test_claims_need_a_known_guild_and_a_date(db):
    with pytest.raises(NotFound, match=f"guild {GUILD} does not exist"):
        await claim(db)
    await configured_guild(db)
    for not_a_date in (datetime(2026, 11, 22, tzinfo=UTC), "2026-11-22"):
        with pytest.raises(InvalidInput, match="local_date: expected a date"):
            await claim(db, day=not_a_date)
