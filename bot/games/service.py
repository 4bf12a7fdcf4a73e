"""Games kept in storage: load a channel's game, apply a move, commit, then answer.

Every call runs under the channel's lock: the game is rebuilt from its row (rules in
Game.form, turn order from the seats, the clock from current_seat and turn_deadline, the rest by
replaying the recorded turns), the move is applied, and its turns, the next seat and deadline,
the saved poem and the end of the game are committed before the outcome is returned. So a
restart loses nothing: `resume_all` lists the running games and when each needs attention.
The service knows no game by name: a start request opens its game, and the registry (by the
kind storage keeps) says which class rebuilds a stored one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.games.common import (
    BOT,
    GAMES,
    GameResources,
    Lines,
    Move,
    Opening,
    Outcome,
    Player,
    Registry,
    StartRequest,
    TurnGame,
    refusal,
    say,
)
from bot.games.duilian import CoupletBook
from bot.services import Services
from engine.corpus import CorpusUnreadable, LineIndex
from storage import repo
from storage.db import Database
from storage.errors import Conflict, InvalidInput
from storage.models import Game, GameKind, GameStatus, PoemOrigin

GameMove = Callable[[TurnGame], "Outcome | Awaitable[Outcome]"]

NO_GAME = say("no_game", "这个频道没有进行中的游戏。", "There is no game running in this channel.")

log = logging.getLogger(__name__)


async def _run(move: GameMove, game: TurnGame) -> Outcome:
    """Apply a move off the event loop (a 飞花令 near-miss search reads the corpus for a while);
    a move that is itself async (the poet writes) comes back as a coroutine to await here."""
    outcome = await asyncio.to_thread(move, game)
    return await outcome if isinstance(outcome, Awaitable) else outcome


@dataclass(frozen=True)
class Resumable:
    """A running game after a restart: when its reminder and deadline are due."""

    game_id: int
    channel_id: int
    kind: GameKind
    turn: int | None
    deadline: datetime | None
    reminder_at: datetime | None


class GameService:
    def __init__(self, db: Database, resources: GameResources, games: Registry = GAMES) -> None:
        self.db = db
        self.resources = resources
        self.games = games
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    # --- loading and saving ------------------------------------------------------------------

    async def _players(self, session: AsyncSession, row: Game) -> list[Player]:
        users = [await repo.get_user(session, seat.user_id) for seat in row.players]
        return [Player(user.id, user.display_name) for user in users if user is not None]

    def _restore(self, row: Game, players: list[Player]) -> TurnGame:
        game_type = self.games.get(row.kind)
        if game_type is None:
            raise Conflict(f"game #{row.id} is a {row.kind.value} game, which this version cannot play")
        seats = {seat.seat: seat.user_id for seat in row.players}
        current = BOT if row.current_seat == repo.BOT_SEAT else seats.get(row.current_seat)
        game = game_type.restore(
            row, players, self.resources, current=current, deadline=row.turn_deadline, starter_id=row.started_by_id
        )
        game.replay([Move.from_turn(turn) for turn in row.turns])
        return game

    async def _commit(self, session: AsyncSession, row: Game, game: TurnGame, outcome: Outcome) -> Outcome:
        outcome.game_id = row.id
        for move in outcome.moves:
            player = None if move.player_id is None else game.players[move.player_id]  # None: the bot
            await repo.record_turn(
                session, row.id, move.line, player=player, accepted=move.accepted, reason=move.stored_reason
            )
        if outcome.poem and not outcome.abandoned:
            form, prosody = game.poem_details()
            saved = await repo.save_poem(
                session,
                repo.NewPoem(
                    lines=[line for line, _ in outcome.poem],
                    form=form,
                    origin=PoemOrigin.GAME,
                    guild_id=row.guild_id,
                    channel_id=row.channel_id,
                    game_id=row.id,
                    line_authors=[
                        None if author is None or author == BOT else game.players.get(author)
                        for _, author in outcome.poem
                    ],
                    prosody=prosody,
                ),
            )
            outcome.poem_id = saved.id
        if outcome.finished:
            await repo.finish_game(session, row.id, GameStatus.ABANDONED if outcome.abandoned else GameStatus.FINISHED)
            return outcome
        if game.rhyme_group != row.rhyme_group:
            row.rhyme_group = game.rhyme_group
        current = game.rotation.current
        seats = {seat.user_id: seat.seat for seat in row.players}
        if current is not None:
            await repo.set_turn(
                session, row.id, repo.BOT_SEAT if current == BOT else seats[current], game.rotation.deadline
            )
        return outcome

    async def _play(self, channel_id: int, move: GameMove, kind: GameKind | None = None) -> Outcome:
        """Load the channel's game, let `move(game)` (sync or async) change it, commit, answer. A
        player's move names the game it is meant for (`kind`): one game's command never moves another.

        The move runs between two transactions, not inside one: it may wait seconds for the poet,
        and on SQLite an open transaction holds the database's one write lock (BEGIN IMMEDIATE),
        which every rating and poem would wait for. The channel's lock keeps the game as it was read."""
        async with self._locks[channel_id]:
            async with self.db.unit_of_work() as session:
                row = await repo.running_game(session, channel_id)
                if row is None:
                    return refusal(NO_GAME)
                if kind is not None and row.kind != kind and row.kind in self.games:
                    running = self.games[row.kind]
                    return refusal(
                        say(
                            "other_game",
                            f"这个频道正在玩{running.title}：请用{running.title}的命令，或等本局结束。",
                            f"This channel is playing {running.title}: use its commands, or wait for it to end.",
                        )
                    )
                game_id, game = row.id, self._restore(row, await self._players(session, row))
            outcome = await _run(move, game)
            if not outcome.moves and not outcome.accepted:
                outcome.game_id = game_id
                return outcome  # a refusal that changes nothing
            async with self.db.unit_of_work() as session:
                row = await repo.running_game(session, channel_id)
                if row is None or row.id != game_id:  # ended meanwhile by another process (`lianju` admin)
                    return refusal(NO_GAME)
                # A newcomer (a join, or anyone answering a 对对联) takes the next seat; a moderator who
                # stops a game they do not play in moves without joining it.
                seated = {seat.user_id for seat in row.players}
                if outcome.by is not None and outcome.by in game.players and outcome.by not in seated:
                    await repo.join_game(session, row.id, game.players[outcome.by])
                return await self._commit(session, row, game, outcome)

    # --- what the front ends call -------------------------------------------------------------

    async def start(
        self, channel_id: int, guild_id: int | None, starter: Player, request: StartRequest, now: datetime
    ) -> Outcome:
        """Open the requested game if the channel is free; its first move (or refusal) is the answer."""
        busy = refusal(say("busy", "这个频道已有进行中的游戏。", "This channel already has a game running."))
        async with self._locks[channel_id]:
            async with self.db.unit_of_work() as session:
                if await repo.running_game(session, channel_id) is not None:
                    return busy
            # Opened outside a transaction, as _play moves: the bot's opening line waits for the poet.
            opening = await request.open(starter, now, self.resources)
            if isinstance(opening, Outcome):
                return opening
            outcome = await _run(lambda _game: opening.first_move(), opening.game)
            if not outcome.accepted:
                # No game was created: why the opening was refused, nothing of turns or tries left.
                return Outcome(accepted=False, reasons=outcome.reasons)
            async with self.db.unit_of_work() as session:
                if await repo.running_game(session, channel_id) is not None:  # another process started one
                    return busy
                return await self._store_new(session, channel_id, guild_id, starter, opening, outcome)

    async def _store_new(
        self,
        session: AsyncSession,
        channel_id: int,
        guild_id: int | None,
        starter: Player,
        opening: Opening,
        outcome: Outcome,
    ) -> Outcome:
        game = opening.game
        try:
            new = repo.NewGame(
                kind=game.kind,
                channel_id=channel_id,
                guild_id=guild_id,
                players=[starter],
                started_by=starter,
                turn_seconds=game.rotation.turn_seconds,
                form=opening.form,
                keyword=opening.keyword,
            )
        except InvalidInput as error:
            return refusal(say("invalid_setting", f"设置不合法：{error}", f"Invalid setting: {error}"))
        row = await repo.start_game(session, new)
        return await self._commit(session, row, game, outcome)

    async def ask(self, kind: GameKind, text: str, seed: int | None = None) -> Outcome:
        """One exchange with the bot outside any game (the 下联 for a player's 上联); nothing is stored."""
        return await self.games[kind].ask(self.resources, text, seed)

    # A player's move names its game (the command's); the clock's moves act on whatever runs.

    async def join(self, channel_id: int, kind: GameKind, player: Player) -> Outcome:
        return await self._play(channel_id, lambda game: game.join(player), kind)

    async def submit(self, channel_id: int, kind: GameKind, player: Player, text: str, now: datetime) -> Outcome:
        return await self._play(channel_id, lambda game: game.submit(player, text, now), kind)

    async def pass_turn(self, channel_id: int, kind: GameKind, player: Player, now: datetime) -> Outcome:
        return await self._play(channel_id, lambda game: game.pass_turn(player, now), kind)

    async def timeout(self, channel_id: int, now: datetime) -> Outcome:
        return await self._play(channel_id, lambda game: game.timeout(now, self.resources.poet))

    async def bot_turn(self, channel_id: int, now: datetime) -> Outcome:
        return await self._play(channel_id, lambda game: game.bot_turn(now, self.resources.poet))

    async def stop(self, channel_id: int, kind: GameKind, player: Player, moderator: bool = False) -> Outcome:
        return await self._play(channel_id, lambda game: game.stop(player.id, moderator), kind)

    async def status(self, channel_id: int) -> TurnGame | None:
        """The channel's running game as it stands (a copy: changing it changes nothing)."""
        async with self.db.unit_of_work() as session:
            row = await repo.running_game(session, channel_id)
            return None if row is None else self._restore(row, await self._players(session, row))

    async def forget_player(self, player_id: int, now: datetime) -> list[tuple[int, Outcome]]:
        """Before /forgetme deletes a player's seats: every running game they play in lets them go
        (TurnGame.leave), so that nobody waits for, or is reminded about, a player who is gone.
        Returns (channel, outcome) for each game that moved."""
        async with self.db.unit_of_work() as session:
            channels = [
                row.channel_id
                for row in await repo.games_to_resume(session)
                if any(seat.user_id == player_id for seat in row.players)
            ]
        poet = self.resources.poet
        left = [
            (channel, await self._play(channel, lambda game: game.leave(player_id, now, poet))) for channel in channels
        ]
        return [(channel, outcome) for channel, outcome in left if outcome.accepted or outcome.moves]

    async def resume_all(self) -> list[Resumable]:
        """Running games and when each needs the scheduler, for rescheduling at start-up."""
        async with self.db.unit_of_work() as session:
            rows = await repo.games_to_resume(session)
            resumed = []
            for row in rows:
                game = self._restore(row, await self._players(session, row))
                rotation = game.rotation
                resumed.append(
                    Resumable(
                        row.id, row.channel_id, row.kind, rotation.current, rotation.deadline, rotation.reminder_at
                    )
                )
            return resumed


def game_service(services: Services) -> GameService:
    """The games' service of a process; 飞花令 and the corpus's 上联 need `lianju corpus build` to have run.
    The poet is the services' own: a model swap replaces the model inside it (engine.Poet.swap)."""
    corpus = services.settings.corpus_dir
    lines: Lines | None = None
    if (corpus / "corpus.sqlite").is_file():
        try:
            lines = LineIndex(corpus / "corpus.sqlite")
        except CorpusUnreadable as error:  # the bot still runs; 飞花令 says the corpus is not built
            log.warning("%s", error)
    couplets = CoupletBook(corpus / "couplets.jsonl") if (corpus / "couplets.jsonl").is_file() else None
    return GameService(services.database, GameResources(services.poet, lines, couplets))
