"""Games: seats, turns and the turn clock, one running game per channel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import limits
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import Game, GameKind, GamePlayer, GameStatus, GameTurn, utcnow
from storage.repo.common import get_or_raise, parse_enum
from storage.repo.people import DiscordUser, upsert_user, upsert_users


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
        object.__setattr__(self, "kind", parse_enum("kind", GameKind, self.kind))
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
    await upsert_users(session, [game.started_by, *game.players])
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
    return await get_or_raise(session, Game, game_id, "game")


async def running_game(session: AsyncSession, channel_id: int) -> Game | None:
    """The channel's running game, with players and turns; None when it has none."""
    return await _running_game(session, limits.snowflake("channel_id", channel_id))


async def join_game(session: AsyncSession, game_id: int, player: DiscordUser) -> Game:
    """Seat a player after the others."""
    game = await _active_game_for_update(session, game_id)
    if any(seated.user_id == player.id for seated in game.players):
        raise Conflict(f"{player.display_name} already plays in game #{game.id}")
    await upsert_user(session, player)
    game.players.append(
        GamePlayer(user_id=player.id, seat=max((seated.seat for seated in game.players), default=-1) + 1)
    )
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


# The seat number that stands for the bot when it plays a turn of its own (it has no users row).
BOT_SEAT = -1


async def set_turn(session: AsyncSession, game_id: int, seat: int, deadline: datetime | None) -> Game:
    """Give the turn to `seat` (a player's, or BOT_SEAT) with this deadline (None: no deadline).

    The game's rules pick the next seat (players drop out, the bot plays) and keep their own clock.
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
    status = parse_enum("status", GameStatus, status)
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
