"""The queries the bot needs, named for what they do.

Every function takes the `AsyncSession` of the caller's unit of work (`Database.unit_of_work()`),
so several steps can share one transaction; what a function writes is durable once that unit of
work commits. Input is checked here, at the boundary (see storage/limits.py), and refused with
`InvalidInput`; missing rows raise `NotFound`, clashes with the current state `Conflict`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Callable, Sequence

from sqlalchemy import Float, and_, cast, delete, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from storage import limits
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import (
    Base,
    DailyPost,
    FinetuneOutcome,
    FinetuneRun,
    Game,
    GameKind,
    GamePlayer,
    GameStatus,
    GameTurn,
    Guild,
    ModelStatus,
    ModelVersion,
    Poem,
    PoemAuthor,
    PoemOrigin,
    Rating,
    Script,
    User,
    utcnow,
)

DEFAULT_MODEL_NAME = "v0"
REGISTRY_LOCK = 0x4C69616E6A75  # any constant; names the registry's PostgreSQL advisory lock


def _insert(session: AsyncSession, model: type[Base]):
    """INSERT with ON CONFLICT for the session's dialect (both spell it the same way)."""
    dialect = session.get_bind().dialect.name
    return {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect](model)


async def _get(session: AsyncSession, model: type[Base], key: object, what: str):
    row = await session.get(model, key)
    if row is None:
        raise NotFound(f"{what} {key} does not exist")
    return row


def _enum(field: str, cls, value: object):
    try:
        return cls(value)
    except ValueError:
        choices = ", ".join(member.value for member in cls)
        raise InvalidInput(field, f"{value!r} is not one of: {choices}") from None


# --- users and guilds --------------------------------------------------------------------------


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
        values["script"] = _enum("script", Script, script)
    statement = _insert(session, User).values(id=user.id, created_at=now, **values)
    statement = statement.on_conflict_do_update(index_elements=[User.id], set_=values)
    await session.execute(statement)
    return await session.get(User, user.id, populate_existing=True)


async def _upsert_users(session: AsyncSession, users: Sequence[DiscordUser | None]) -> None:
    for user in {user.id: user for user in users if user is not None}.values():
        await upsert_user(session, user)


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, limits.snowflake("user id", user_id))


def _daily_time(value: object) -> time:
    if not isinstance(value, time) or value.tzinfo is not None:
        raise InvalidInput("daily_time", f"expected a local time of day without time zone, got {value!r}")
    return value


GUILD_SETTINGS: dict[str, Callable[[object], object]] = {
    "locale": lambda value: limits.text("locale", value, limits.SHORT_LABEL_MAX),
    "script": lambda value: _enum("script", Script, value),
    "daily_channel_id": lambda value: limits.optional_snowflake("daily_channel_id", value),
    "daily_time": _daily_time,
    "timezone": limits.timezone_name,
    "default_form": lambda value: limits.text("default_form", value, limits.SHORT_LABEL_MAX),
    "turn_seconds": lambda value: limits.integer("turn_seconds", value, 10, limits.TURN_SECONDS_MAX),
}


async def configure_guild(session: AsyncSession, guild_id: int, **changes: object) -> Guild:
    """Create the guild's settings on first use and apply `changes` (keys of GUILD_SETTINGS)."""
    unknown = set(changes) - set(GUILD_SETTINGS)
    if unknown:
        raise InvalidInput("guild settings", f"unknown {sorted(unknown)}; known: {sorted(GUILD_SETTINGS)}")
    values = {name: GUILD_SETTINGS[name](value) for name, value in changes.items()}
    guild_id = limits.snowflake("guild id", guild_id)
    await session.execute(_insert(session, Guild).values(id=guild_id).on_conflict_do_nothing())
    guild = await session.get(Guild, guild_id, populate_existing=True)
    for name, value in values.items():
        setattr(guild, name, value)
    await session.flush()
    return guild


async def get_guild(session: AsyncSession, guild_id: int) -> Guild | None:
    return await session.get(Guild, limits.snowflake("guild id", guild_id))


async def guilds_with_daily_poem(session: AsyncSession) -> list[Guild]:
    result = await session.scalars(select(Guild).where(Guild.daily_channel_id.is_not(None)).order_by(Guild.id))
    return list(result)


# --- poems ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewPoem:
    """A poem to save. `line_authors`, for collaborative poems, gives each line's writer (None: the bot)."""

    lines: Sequence[str]
    form: str
    origin: PoemOrigin | str
    theme: str | None = None
    acrostic: str | None = None
    requester: DiscordUser | None = None
    guild_id: int | None = None
    channel_id: int | None = None
    message_id: int | None = None
    game_id: int | None = None
    model_version_id: int | None = None
    sampling: dict[str, Any] | None = None
    seed: int | None = None
    prosody: dict[str, Any] | None = None
    line_authors: Sequence[DiscordUser | None] | None = None

    def __post_init__(self) -> None:
        lines = limits.poem_lines(self.lines)
        object.__setattr__(self, "lines", lines)
        object.__setattr__(self, "origin", _enum("origin", PoemOrigin, self.origin))
        if self.origin == PoemOrigin.USER and self.requester is None:
            raise InvalidInput("requester", "a submitted poem needs the person who submitted it")
        limits.text("form", self.form, limits.SHORT_LABEL_MAX)
        limits.optional_text("theme", self.theme, limits.THEME_MAX)
        limits.optional_text("acrostic", self.acrostic, limits.ACROSTIC_MAX)
        for name in ("guild_id", "channel_id", "message_id"):
            limits.optional_snowflake(name, getattr(self, name))
        for name in ("sampling", "prosody"):
            if getattr(self, name) is not None:
                limits.json_object(name, getattr(self, name))
        if self.seed is not None:
            limits.integer("seed", self.seed, -(2**63), 2**63 - 1)
        if self.line_authors is not None and len(self.line_authors) != len(lines):
            raise InvalidInput(
                "line_authors", f"has {len(self.line_authors)} entries for {len(lines)} lines; give one per line"
            )


async def save_poem(session: AsyncSession, poem: NewPoem) -> Poem:
    await _upsert_users(session, [poem.requester, *(poem.line_authors or ())])
    if poem.model_version_id is not None:
        await _get(session, ModelVersion, poem.model_version_id, "model version")
    if poem.game_id is not None:
        await _get(session, Game, poem.game_id, "game")
    row = Poem(
        text="\n".join(poem.lines),
        form=poem.form,
        origin=poem.origin,
        theme=poem.theme,
        acrostic=poem.acrostic,
        requester_id=poem.requester.id if poem.requester else None,
        guild_id=poem.guild_id,
        channel_id=poem.channel_id,
        message_id=poem.message_id,
        game_id=poem.game_id,
        model_version_id=poem.model_version_id,
        sampling=poem.sampling,
        seed=poem.seed,
        prosody=poem.prosody,
        authors=[
            PoemAuthor(line_no=number, user_id=author.id if author else None, by_bot=author is None)
            for number, author in enumerate(poem.line_authors or ())
        ],
    )
    session.add(row)
    await session.flush()
    return row


async def get_poem(session: AsyncSession, poem_id: int) -> Poem:
    return await _get(session, Poem, poem_id, "poem")


async def attach_message(session: AsyncSession, poem_id: int, channel_id: int, message_id: int) -> Poem:
    """Record where the poem was posted, once the reply exists."""
    poem = await get_poem(session, poem_id)
    poem.channel_id = limits.snowflake("channel_id", channel_id)
    poem.message_id = limits.snowflake("message_id", message_id)
    await session.flush()
    return poem


async def user_poems(
    session: AsyncSession, user_id: int, *, limit: int = 20, before_id: int | None = None
) -> list[Poem]:
    """Poems the user asked for or wrote a line of, newest first; page with `before_id`."""
    limits.snowflake("user id", user_id)
    wrote_a_line = exists().where(PoemAuthor.poem_id == Poem.id, PoemAuthor.user_id == user_id)
    query = select(Poem).where(or_(Poem.requester_id == user_id, wrote_a_line))
    if before_id is not None:
        query = query.where(Poem.id < before_id)
    result = await session.scalars(query.order_by(Poem.id.desc()).limit(limits.integer("limit", limit, 1, 100)))
    return list(result)


# --- ratings -------------------------------------------------------------------------------------


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
    statement = _insert(session, Rating).values(
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
    min_bayesian_mean: float | None = None,
    limit: int,
) -> list[RatedPoem]:
    votes, mean, bayesian = _rating_aggregates(prior)
    having = [votes >= min_votes]
    if min_bayesian_mean is not None:
        having.append(bayesian >= min_bayesian_mean)
    stats = (
        select(Rating.poem_id, votes.label("votes"), mean.label("mean"), bayesian.label("bayesian"))
        .group_by(Rating.poem_id)
        .having(and_(*having))
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


async def finetune_candidates(
    session: AsyncSession,
    *,
    min_votes: int,
    min_bayesian_mean: float,
    since: datetime | None = None,
    limit: int = 10_000,
    prior: BayesianPrior = BayesianPrior(),
) -> list[RatedPoem]:
    """Poems written since `since` with at least `min_votes` ratings and a Bayesian mean of at
    least `min_bayesian_mean`: what the fine-tune learns from."""
    return await _rated_poems(
        session,
        *_period(since, None),
        prior=prior,
        min_votes=limits.integer("min_votes", min_votes, 1, 1_000_000),
        min_bayesian_mean=limits.finite("min_bayesian_mean", min_bayesian_mean),
        limit=limit,
    )


async def rated_poems_with_ratings(
    session: AsyncSession, *, min_votes: int, since: datetime | None = None, limit: int = 10_000
) -> list[tuple[Poem, dict[int, int]]]:
    """Poems written since `since` with at least `min_votes` ratings, each with every rater's
    stars: what a fine-tune chooses its feedback (and its negatives) from."""
    min_votes = limits.integer("min_votes", min_votes, 1, 1_000_000)
    enough = (
        select(Rating.poem_id).group_by(Rating.poem_id).having(func.count(Rating.user_id) >= min_votes).subquery()
    )
    poems = list(
        await session.scalars(
            select(Poem).where(Poem.id.in_(select(enough.c.poem_id)), *_period(since, None))
            .order_by(Poem.id).limit(limits.integer("limit", limit, 1, 10_000))
        )
    )
    stars: dict[int, dict[int, int]] = {poem.id: {} for poem in poems}
    rows = await session.execute(
        select(Rating.poem_id, Rating.user_id, Rating.stars).where(Rating.poem_id.in_(list(stars)))
    )
    for poem_id, user_id, given in rows:
        stars[poem_id][user_id] = given
    return [(poem, stars[poem.id]) for poem in poems]


async def last_finetune_run(session: AsyncSession) -> FinetuneRun | None:
    """The most recent fine-tune run that finished (promoted, rejected or failed)."""
    return await session.scalar(
        select(FinetuneRun).where(FinetuneRun.outcome != FinetuneOutcome.RUNNING)
        .order_by(FinetuneRun.started_at.desc(), FinetuneRun.id.desc()).limit(1)
    )


# --- games ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewGame:
    kind: GameKind | str
    channel_id: int
    players: Sequence[DiscordUser]  # in turn order; the first plays first
    guild_id: int | None = None
    form: str | None = None
    rhyme_group: str | None = None
    keyword: str | None = None
    turn_seconds: int | None = None  # None: no deadline
    started_by: DiscordUser | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", _enum("kind", GameKind, self.kind))
        limits.snowflake("channel_id", self.channel_id)
        limits.optional_snowflake("guild_id", self.guild_id)
        if not self.players:
            raise InvalidInput("players", "a game needs at least one player")
        if len({player.id for player in self.players}) != len(self.players):
            raise InvalidInput("players", "a player can take only one seat")
        for name in ("form", "rhyme_group", "keyword"):
            limits.optional_text(name, getattr(self, name), limits.SHORT_LABEL_MAX)
        if self.turn_seconds is not None:
            limits.integer("turn_seconds", self.turn_seconds, 1, limits.TURN_SECONDS_MAX)


def _deadline(game: Game) -> datetime | None:
    return None if game.turn_seconds is None else utcnow() + timedelta(seconds=game.turn_seconds)


async def _running_game(session: AsyncSession, channel_id: int) -> Game | None:
    query = select(Game).where(Game.channel_id == channel_id, Game.status == GameStatus.ACTIVE)
    return (await session.scalars(query)).one_or_none()


async def start_game(session: AsyncSession, game: NewGame) -> Game:
    """Open a game in a channel; the first player's turn starts now. One running game per channel."""
    running = await _running_game(session, game.channel_id)
    if running is not None:
        raise Conflict(f"channel {game.channel_id} already has a running game (#{running.id})")
    await _upsert_users(session, [game.started_by, *game.players])
    row = Game(
        kind=game.kind,
        channel_id=game.channel_id,
        guild_id=game.guild_id,
        form=game.form,
        rhyme_group=game.rhyme_group,
        keyword=game.keyword,
        turn_seconds=game.turn_seconds,
        started_by_id=game.started_by.id if game.started_by else None,
        players=[GamePlayer(user_id=player.id, seat=seat) for seat, player in enumerate(game.players)],
        turns=[],  # loaded (empty) now, so appending later needs no lazy load, which async cannot do
    )
    row.turn_deadline = _deadline(row)
    session.add(row)
    try:
        # A savepoint, so that losing the race to another start leaves the caller's transaction usable.
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(f"channel {game.channel_id} already has a running game") from None
    return row


async def _game_for_update(session: AsyncSession, game_id: int) -> Game:
    # FOR UPDATE serialises writers of one game on PostgreSQL; SQLite's BEGIN IMMEDIATE already does.
    query = select(Game).where(Game.id == game_id).with_for_update().execution_options(populate_existing=True)
    game = (await session.scalars(query)).one_or_none()
    if game is None:
        raise NotFound(f"game {game_id} does not exist")
    return game


async def _active_game_for_update(session: AsyncSession, game_id: int) -> Game:
    game = await _game_for_update(session, game_id)
    if game.status != GameStatus.ACTIVE:
        raise Conflict(f"game #{game.id} is {game.status.value}")
    return game


async def get_game(session: AsyncSession, game_id: int) -> Game:
    return await _get(session, Game, game_id, "game")


async def running_game(session: AsyncSession, channel_id: int) -> Game | None:
    """The channel's running game, with players and turns; None when it has none."""
    return await _running_game(session, limits.snowflake("channel_id", channel_id))


async def join_game(session: AsyncSession, game_id: int, player: DiscordUser) -> Game:
    """Seat a player after the others."""
    game = await _active_game_for_update(session, game_id)
    if any(seated.user_id == player.id for seated in game.players):
        raise Conflict(f"{player.display_name} already plays in game #{game.id}")
    await upsert_user(session, player)
    game.players.append(GamePlayer(user_id=player.id, seat=max(seated.seat for seated in game.players) + 1))
    await session.flush()
    return game


async def record_turn(
    session: AsyncSession,
    game_id: int,
    line: str,
    *,
    player: DiscordUser | None,
    accepted: bool,
    reason: str | None = None,
) -> GameTurn:
    """Record one turn (player None: the bot played it), accepted or rejected with a reason.

    It is numbered after the game's last turn; commit the unit of work to make it durable.
    """
    line = limits.text("line", line, limits.LINE_MAX)
    reason = limits.optional_text("reason", reason, limits.REASON_MAX)
    if not isinstance(accepted, bool):
        raise InvalidInput("accepted", f"expected True or False, got {accepted!r}")
    if not accepted and reason is None:
        raise InvalidInput("reason", "a rejected turn needs the reason it was rejected")
    game = await _active_game_for_update(session, game_id)
    if player is not None:
        await upsert_user(session, player)
    game.turn_count += 1
    turn = GameTurn(
        number=game.turn_count,
        player_id=player.id if player else None,
        by_bot=player is None,
        line=line,
        accepted=accepted,
        reason=reason,
    )
    game.turns.append(turn)
    await session.flush()
    return turn


async def advance_game(session: AsyncSession, game_id: int) -> Game:
    """Pass the turn to the next seat (after the last, the first) and restart the clock."""
    game = await _active_game_for_update(session, game_id)
    seats = [player.seat for player in game.players]
    if seats:
        game.current_seat = min((seat for seat in seats if seat > game.current_seat), default=min(seats))
    game.turn_deadline = _deadline(game)
    await session.flush()
    return game


# The seat number that stands for the bot when it plays a turn of its own (it has no users row).
BOT_SEAT = -1


async def set_turn(session: AsyncSession, game_id: int, seat: int, deadline: datetime | None) -> Game:
    """Give the turn to `seat` (a player's, or BOT_SEAT) with this deadline (None: no deadline).

    For games whose rules pick the next seat themselves (players drop out, the bot plays) and
    keep their own clock; `advance_game` is the plain round-robin.
    """
    game = await _active_game_for_update(session, game_id)
    if seat != BOT_SEAT and seat not in {player.seat for player in game.players}:
        raise InvalidInput("seat", f"game #{game.id} has no seat {seat!r}")
    if deadline is not None and (not isinstance(deadline, datetime) or deadline.tzinfo is None):
        raise InvalidInput("deadline", f"expected an aware datetime or None, got {deadline!r}")
    game.current_seat = seat
    game.turn_deadline = deadline
    await session.flush()
    return game


async def finish_game(session: AsyncSession, game_id: int, status: GameStatus | str = GameStatus.FINISHED) -> Game:
    status = _enum("status", GameStatus, status)
    if status == GameStatus.ACTIVE:
        raise InvalidInput("status", "a game finishes as finished or abandoned")
    game = await _active_game_for_update(session, game_id)
    game.status = status
    game.finished_at = utcnow()
    game.turn_deadline = None
    await session.flush()
    return game


async def games_to_resume(session: AsyncSession) -> list[Game]:
    """Running games, with players and turns, for the bot to pick up after a restart."""
    result = await session.scalars(select(Game).where(Game.status == GameStatus.ACTIVE).order_by(Game.id))
    return list(result)


# --- daily posts ---------------------------------------------------------------------------------


async def claim_daily_post(
    session: AsyncSession, guild_id: int, local_date: date, *, stale_after: timedelta = timedelta(minutes=30)
) -> DailyPost | None:
    """Claim the guild's post for `local_date`; None when another process has it.

    Commit the claim in its own unit of work before writing the poem. A claim that was never
    completed (the claimer died) can be taken over once it is older than `stale_after`.
    """
    guild_id = limits.snowflake("guild id", guild_id)
    if not isinstance(local_date, date) or isinstance(local_date, datetime):
        raise InvalidInput("local_date", f"expected a date, got {local_date!r}")
    await _get(session, Guild, guild_id, "guild")
    now = utcnow()
    claimed = await session.scalar(
        _insert(session, DailyPost)
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
    post = await _get(session, DailyPost, post_id, "daily post")
    if post.posted_at is not None:
        raise Conflict(f"the daily post of guild {post.guild_id} for {post.local_date} is already posted")
    await get_poem(session, poem_id)
    post.poem_id = poem_id
    post.message_id = limits.snowflake("message_id", message_id)
    post.posted_at = utcnow()
    await session.flush()
    return post


# --- model registry ------------------------------------------------------------------------------


async def active_model(session: AsyncSession) -> ModelVersion | None:
    return (await session.scalars(select(ModelVersion).where(ModelVersion.status == ModelStatus.ACTIVE))).one_or_none()


async def _lock_registry(session: AsyncSession) -> None:
    # Registry changes read the active version and then replace it; two at once on PostgreSQL would
    # both read the same one. SQLite's BEGIN IMMEDIATE already serialises every writer.
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(REGISTRY_LOCK)))


async def ensure_default_model(session: AsyncSession, path: str) -> ModelVersion:
    """The active model; on an empty registry, the shipped default `v0` at `path` becomes it."""
    path = limits.text("path", path, limits.PATH_MAX)
    await _lock_registry(session)
    if await session.scalar(select(func.count(ModelVersion.id))) == 0:
        now = utcnow()
        await session.execute(
            _insert(session, ModelVersion)
            .values(name=DEFAULT_MODEL_NAME, path=path, status=ModelStatus.ACTIVE, metrics={}, created_at=now, promoted_at=now)
            .on_conflict_do_nothing()
        )
    active = await active_model(session)
    if active is None:
        raise Conflict("the model registry has versions but none is active: promote one")
    return active


async def register_candidate(
    session: AsyncSession, name: str, path: str, *, parent_id: int | None = None, metrics: dict[str, Any] | None = None
) -> ModelVersion:
    name = limits.text("name", name, limits.MODEL_NAME_MAX)
    await _lock_registry(session)
    if await session.scalar(select(ModelVersion.id).where(ModelVersion.name == name)) is not None:
        raise Conflict(f"a model version named {name!r} exists already")
    if parent_id is not None:
        await _get(session, ModelVersion, parent_id, "model version")
    version = ModelVersion(
        name=name,
        path=limits.text("path", path, limits.PATH_MAX),
        parent_id=parent_id,
        metrics=limits.json_object("metrics", metrics or {}),
        status=ModelStatus.CANDIDATE,
    )
    session.add(version)
    await session.flush()
    return version


async def _locked_version(session: AsyncSession, version_id: int) -> ModelVersion:
    await _lock_registry(session)
    return await _get(session, ModelVersion, version_id, "model version")


async def _replace_active(session: AsyncSession, successor: ModelVersion) -> None:
    """Retire the active version, if any, and make `successor` active in its place."""
    current = await active_model(session)
    if current is not None:
        current.status = ModelStatus.RETIRED
        current.retired_at = utcnow()
        # Flushed first: the one-active index would refuse the new active row before it.
        await session.flush()
    successor.status = ModelStatus.ACTIVE
    successor.retired_at = None
    await session.flush()


async def promote(session: AsyncSession, version_id: int) -> ModelVersion:
    """Make the version the active one; the previously active version is retired."""
    version = await _locked_version(session, version_id)
    if version.status != ModelStatus.ACTIVE:
        version.promoted_at = utcnow()
        await _replace_active(session, version)
    return version


async def retire(session: AsyncSession, version_id: int) -> ModelVersion:
    version = await _locked_version(session, version_id)
    if version.status == ModelStatus.ACTIVE:
        raise Conflict(f"{version.name} is the active model: promote another or roll back instead")
    if version.status != ModelStatus.RETIRED:
        version.status = ModelStatus.RETIRED
        version.retired_at = utcnow()
        await session.flush()
    return version


async def roll_back(session: AsyncSession) -> ModelVersion:
    """Retire the active model and restore the one that was active before it."""
    await _lock_registry(session)
    current = await active_model(session)
    if current is None or current.promoted_at is None:
        raise Conflict("no model is active, so there is nothing to roll back from")
    previous = await session.scalar(
        select(ModelVersion)
        .where(ModelVersion.status == ModelStatus.RETIRED, ModelVersion.promoted_at < current.promoted_at)
        .order_by(ModelVersion.promoted_at.desc())
        .limit(1)
    )
    if previous is None:
        raise Conflict(f"{current.name} is the first model ever promoted: there is nothing to roll back to")
    await _replace_active(session, previous)
    return previous


async def list_models(session: AsyncSession) -> list[ModelVersion]:
    return list(await session.scalars(select(ModelVersion).order_by(ModelVersion.id)))


async def start_finetune_run(
    session: AsyncSession, base_version_id: int, data_counts: dict[str, int], *, log_path: str | None = None
) -> FinetuneRun:
    await _get(session, ModelVersion, base_version_id, "model version")
    run = FinetuneRun(
        base_version_id=base_version_id,
        data_counts=limits.json_object("data_counts", data_counts),
        log_path=limits.optional_text("log_path", log_path, limits.PATH_MAX),
    )
    session.add(run)
    await session.flush()
    return run


async def finish_finetune_run(
    session: AsyncSession,
    run_id: int,
    outcome: FinetuneOutcome | str,
    *,
    gates: dict[str, Any] | None = None,
    candidate_version_id: int | None = None,
    detail: str | None = None,
) -> FinetuneRun:
    outcome = _enum("outcome", FinetuneOutcome, outcome)
    if outcome == FinetuneOutcome.RUNNING:
        raise InvalidInput("outcome", "a finished run is promoted, rejected or failed")
    gates = None if gates is None else limits.json_object("gates", gates)
    detail = None if detail is None else limits.text("detail", detail, limits.DETAIL_MAX, multiline=True)
    run = await _get(session, FinetuneRun, run_id, "fine-tune run")
    if run.outcome != FinetuneOutcome.RUNNING:
        raise Conflict(f"fine-tune run {run_id} has already finished ({run.outcome.value})")
    if candidate_version_id is not None:
        await _get(session, ModelVersion, candidate_version_id, "model version")
    run.outcome = outcome
    run.gates = gates
    run.candidate_version_id = candidate_version_id
    run.detail = detail
    run.finished_at = utcnow()
    await session.flush()
    return run


# --- forget me -----------------------------------------------------------------------------------


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
        return await session.scalar(select(func.count()).select_from(model).where(*conditions))

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
