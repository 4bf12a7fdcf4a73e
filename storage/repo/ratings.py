"""Ratings: one person's stars for a poem, and the poems ranked by their Bayesian mean."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Float, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from storage import limits
from storage.errors import InvalidInput
from storage.models import Poem, Rating, utcnow
from storage.repo.common import dialect_insert
from storage.repo.people import DiscordUser, upsert_user
from storage.repo.poems import get_poem


@dataclass(frozen=True)
class BayesianPrior:
    """Every poem starts as if `votes` people had given it `mean` stars, so one 5-star vote does not
    put a poem above one with twenty 4.8-star votes."""

    mean: float = 3.0
    votes: float = 5.0

    def __post_init__(self) -> None:
        if not limits.STARS_MIN <= limits.finite("prior mean", self.mean) <= limits.STARS_MAX:
            raise InvalidInput("prior mean", f"must lie between {limits.STARS_MIN} and {limits.STARS_MAX}")
        if limits.finite("prior votes", self.votes) <= 0:
            raise InvalidInput("prior votes", "must be positive (a small number gives nearly the plain mean)")


@dataclass(frozen=True)
class RatingSummary:
    count: int
    mean: float | None  # None when nobody rated
    bayesian_mean: float


@dataclass(frozen=True)
class RatedPoem:
    poem: Poem
    rating: RatingSummary


async def rate(session: AsyncSession, poem_id: int, user: DiscordUser, stars: int) -> Rating:
    """The user's rating of the poem, created or replaced: one per (poem, user)."""
    stars = limits.stars(stars)
    await get_poem(session, poem_id)
    await upsert_user(session, user)
    now = utcnow()
    statement = dialect_insert(session, Rating).values(
        poem_id=poem_id, user_id=user.id, stars=stars, created_at=now, updated_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=[Rating.poem_id, Rating.user_id], set_={"stars": stars, "updated_at": now}
    ).returning(Rating)
    result = await session.scalars(
        select(Rating).from_statement(statement), execution_options={"populate_existing": True}
    )
    return result.one()


def _rating_aggregates(prior: BayesianPrior) -> tuple[ColumnElement, ColumnElement, ColumnElement]:
    votes = func.count(Rating.id)
    total = cast(func.sum(Rating.stars), Float)
    mean = cast(func.avg(Rating.stars), Float)
    bayesian = (prior.mean * prior.votes + func.coalesce(total, 0.0)) / (prior.votes + votes)
    return votes, mean, bayesian


async def rating_summary(session: AsyncSession, poem_id: int, prior: BayesianPrior = BayesianPrior()) -> RatingSummary:
    await get_poem(session, poem_id)
    votes, mean, bayesian = _rating_aggregates(prior)
    row = (await session.execute(select(votes, mean, bayesian).where(Rating.poem_id == poem_id))).one()
    return RatingSummary(count=row[0], mean=row[1], bayesian_mean=row[2])


async def _rated_poems(
    session: AsyncSession,
    *conditions: ColumnElement[bool],
    prior: BayesianPrior,
    min_votes: int,
    limit: int,
) -> list[RatedPoem]:
    votes, mean, bayesian = _rating_aggregates(prior)
    stats = (
        select(Rating.poem_id, votes.label("votes"), mean.label("mean"), bayesian.label("bayesian"))
        .group_by(Rating.poem_id)
        .having(votes >= min_votes)
        .subquery()
    )
    query = (
        select(Poem, stats.c.votes, stats.c.mean, stats.c.bayesian)
        .join(stats, stats.c.poem_id == Poem.id)
        .where(*conditions)
        .order_by(stats.c.bayesian.desc(), stats.c.votes.desc(), Poem.id)
        .limit(limits.integer("limit", limit, 1, 10_000))
    )
    rows = await session.execute(query)
    return [RatedPoem(poem, RatingSummary(count, mean, bayesian_mean)) for poem, count, mean, bayesian_mean in rows]


def _period(since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    conditions = []
    if since is not None:
        conditions.append(Poem.created_at >= limits.aware("since", since))
    if until is not None:
        conditions.append(Poem.created_at < limits.aware("until", until))
    return conditions


async def top_poems(
    session: AsyncSession,
    *,
    guild_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    min_votes: int = 1,
    limit: int = 10,
    prior: BayesianPrior = BayesianPrior(),
) -> list[RatedPoem]:
    """The best-rated poems (by Bayesian mean) written in [since, until), in one guild or everywhere."""
    conditions = _period(since, until)
    if guild_id is not None:
        conditions.append(Poem.guild_id == limits.snowflake("guild id", guild_id))
    min_votes = limits.integer("min_votes", min_votes, 1, 1_000_000)
    return await _rated_poems(session, *conditions, prior=prior, min_votes=min_votes, limit=limit)


async def rated_poems_with_ratings(
    session: AsyncSession, *, min_votes: int, since: datetime | None = None, limit: int = 10_000
) -> list[tuple[Poem, dict[int, int]]]:
    """Poems with at least `min_votes` ratings, one of them given or changed since `since`, each with
    every rater's stars: what a fine-tune chooses its feedback (and its negatives) from. By when
    the stars came, not when the poem was written: a poem rated after the last run is new to the
    next one. The most recently rated first, so `limit` leaves out the oldest news, not the latest."""
    min_votes = limits.integer("min_votes", min_votes, 1, 1_000_000)
    rated = (
        select(Rating.poem_id, func.max(Rating.updated_at).label("last_rated"))
        .group_by(Rating.poem_id)
        .having(func.count(Rating.user_id) >= min_votes)
    )
    if since is not None:
        rated = rated.having(func.max(Rating.updated_at) >= limits.aware("since", since))
    news = rated.subquery()
    poems = list(
        await session.scalars(
            select(Poem)
            .join(news, news.c.poem_id == Poem.id)
            .order_by(news.c.last_rated.desc(), Poem.id.desc())
            .limit(limits.integer("limit", limit, 1, 10_000))
        )
    )
    stars: dict[int, dict[int, int]] = {poem.id: {} for poem in poems}
    rows = await session.execute(
        select(Rating.poem_id, Rating.user_id, Rating.stars).where(Rating.poem_id.in_(list(stars)))
    )
    for poem_id, user_id, given in rows:
        stars[poem_id][user_id] = given
    return [(poem, stars[poem.id]) for poem in poems]
