"""Games kept in storage: load a channel's game, apply a move, commit, then answer.

Every call runs under the channel's lock: the game is rebuilt from its row (rules in
Game.form, turn order from the seats, the clock from current_seat and turn_deadline, the rest by
replaying the recorded turns), the move is applied, and its turns, the next seat and deadline,
the saved poem and the end of the game are committed before the outcome is returned. So a
restart loses nothing: `resume_all` lists the running games and when each needs attention.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from storage import repo
from storage.db import Database
from engine.poet import PoetError
from storage.errors import Conflict, InvalidInput
from storage.models import Game, GameKind, GameStatus, PoemOrigin

from bot.games.chain import ChainGame, ChainRules
from bot.games.common import (BOT, NO_POET, LinePoet, Lines, Move, Outcome, Player, TurnGame, note, refusal,
    say)
from bot.games.duilian import CoupletBook, DuilianGame, answer, generated_first_line
from bot.games.feihua import FeihuaGame, FeihuaRules, key_character

NO_GAME = say("no_game", "这个频道没有进行中的游戏。", "There is no game running in this channel.")


async def _run(move, game: TurnGame) -> Outcome:
    """Apply a move off the event loop (a 飞花令 near-miss search reads the corpus for a while);
    a move that is itself async (the poet writes) comes back as a coroutine to await here."""
    outcome = await asyncio.to_thread(move, game)
    return await outcome if asyncio.iscoroutine(outcome) else outcome


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
    def __init__(self, db: Database, poet: LinePoet | None, lines: Lines | None = None,
                 couplets: CoupletBook | None = None):
        self.db = db
        self.poet = poet  # None: the model is not loaded, and the bot writes no lines
        self.lines = lines  # the corpus line index: 飞花令, and citing a 上联
        self.couplets = couplets  # real 律诗 couplets for 对对联; without them the poet writes the 上联
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    # --- loading and saving ------------------------------------------------------------------

    async def _players(self, session, row: Game) -> list[Player]:
        users = [await repo.get_user(session, seat.user_id) for seat in row.players]
        return [Player(user.id, user.display_name) for user in users if user is not None]

    def _restore(self, row: Game, players: list[Player]) -> TurnGame:
        seats = {seat.seat: seat.user_id for seat in row.players}
        current = BOT if row.current_seat == repo.BOT_SEAT else seats.get(row.current_seat)
        turns = dict(current=current, deadline=row.turn_deadline, starter_id=row.started_by_id)
        if row.kind == GameKind.CHAIN:
            game = ChainGame(ChainRules.from_label(row.form, row.turn_seconds), players, **turns)
        elif row.kind == GameKind.FEIHUA:
            rules = FeihuaRules.from_label(row.form, row.keyword, row.turn_seconds)
            game = FeihuaGame(rules, players, self._corpus(), **turns)
        elif row.kind == GameKind.DUILIAN:
            first = row.turns[0].line
            game = DuilianGame(first, players, row.turn_seconds, original=row.keyword,
                               source=self._source(first) if row.keyword else None, **turns)
        else:
            raise Conflict(f"game #{row.id} is a {row.kind.value} game, which this version cannot play")
        game.replay([Move.from_turn(turn) for turn in row.turns])
        return game

    async def _commit(self, session, row: Game, game: TurnGame, outcome: Outcome) -> Outcome:
        outcome.game_id = row.id
        for move in outcome.moves:
            player = None if move.by_bot else game.players[move.player_id]
            await repo.record_turn(session, row.id, move.line, player=player, accepted=move.accepted,
                                   reason=move.stored_reason)
        if outcome.poem and not outcome.abandoned:
            saved = await repo.save_poem(session, repo.NewPoem(
                lines=[line for line, _ in outcome.poem], form=game.rules.form.name, origin=PoemOrigin.GAME,
                guild_id=row.guild_id, channel_id=row.channel_id, game_id=row.id,
                line_authors=[None if author == BOT else game.players.get(author) for _, author in outcome.poem],
                prosody={"rhyme_group": game.rhyme_group, "strict": game.rules.strict},
            ))
            outcome.poem_id = saved.id
        if outcome.finished:
            await repo.finish_game(session, row.id, GameStatus.ABANDONED if outcome.abandoned else GameStatus.FINISHED)
            return outcome
        if getattr(game, "rhyme_group", None) != row.rhyme_group:
            row.rhyme_group = game.rhyme_group
        current = game.rotation.current
        seats = {seat.user_id: seat.seat for seat in row.players}
        if current is not None:
            await repo.set_turn(session, row.id, repo.BOT_SEAT if current == BOT else seats[current],
                                game.rotation.deadline)
        return outcome

    async def _play(self, channel_id: int, move) -> Outcome:
        """Load the channel's game, let `move(game)` (sync or async) change it, commit, answer."""
        async with self._locks[channel_id], self.db.unit_of_work() as session:
            row = await repo.running_game(session, channel_id)
            if row is None:
                return refusal(NO_GAME)
            game = self._restore(row, await self._players(session, row))
            outcome = await _run(move, game)
            if not outcome.moves and not outcome.accepted:
                outcome.game_id = row.id
                return outcome  # a refusal that changes nothing
            # A newcomer (a join, or anyone answering a 对对联) takes the next seat.
            if outcome.by is not None and outcome.by != BOT and outcome.by not in {p.user_id for p in row.players}:
                await repo.join_game(session, row.id, game.players[outcome.by])
            return await self._commit(session, row, game, outcome)

    async def _start(self, channel_id: int, guild_id: int | None, starter: Player, game: TurnGame,
                     opening, **columns) -> Outcome:
        """Open a game if the channel is free; `opening(game)` makes its first move (or refuses)."""
        async with self._locks[channel_id], self.db.unit_of_work() as session:
            if await repo.running_game(session, channel_id) is not None:
                return refusal(say("busy", "这个频道已有进行中的游戏。", "This channel already has a game running."))
            outcome = await _run(opening, game)
            if not outcome.accepted:
                return outcome
            try:
                new = repo.NewGame(channel_id=channel_id, guild_id=guild_id, players=[starter], started_by=starter,
                                   turn_seconds=game.rotation.turn_seconds, **columns)
            except InvalidInput as error:
                return refusal(say("invalid_setting", f"设置不合法：{error}", f"Invalid setting: {error}"))
            row = await repo.start_game(session, new)
            return await self._commit(session, row, game, outcome)

    # --- what the cogs call --------------------------------------------------------------------

    async def start_chain(self, channel_id: int, guild_id: int | None, starter: Player, rules: ChainRules,
                          now: datetime, opening: str | None = None, theme: str | None = None) -> Outcome:
        """A 联句 game: the starter's opening line, or the bot's (on the theme, when given)."""
        game = ChainGame(rules, [starter], starter_id=starter.id)
        game.begin(now)

        def first_line(game: ChainGame):
            return game.submit(starter, opening, now) if opening else game.open(now, self.poet, theme)

        return await self._start(channel_id, guild_id, starter, game, first_line,
                                 kind=GameKind.CHAIN, form=rules.label)

    def _corpus(self) -> Lines:
        if self.lines is None:
            raise Conflict("飞花令 needs the corpus line index: run `lianju corpus build`")
        return self.lines

    async def start_feihua(self, channel_id: int, guild_id: int | None, starter: Player, key: str,
                           now: datetime, bot_plays: bool = True, strength: str = "medium",
                           turn_seconds: int | None = 60) -> Outcome:
        """A 飞花令 on `key`; the starter answers first, then whoever joined, the bot last."""
        keyword, problem = key_character(key)
        if problem:
            return refusal(problem)
        if self.lines is None:
            return refusal(say("no_corpus", "诗库还没有建好，不能玩飞花令。",
                               "The corpus is not built yet, so 飞花令 cannot be played."))
        rules = FeihuaRules(keyword, bot_plays, strength, turn_seconds)
        game = FeihuaGame(rules, [starter], self.lines, starter_id=starter.id)
        game.begin(now)

        def announce(game: FeihuaGame) -> Outcome:
            return game.outcome(True, by=starter.id, notes=[
                note("started", f"飞花令开始，令字「{keyword}」。", f"飞花令 on 「{keyword}」 begins."),
                game.turn_note()])

        return await self._start(channel_id, guild_id, starter, game, announce,
                                 kind=GameKind.FEIHUA, form=rules.label, keyword=keyword)

    def _source(self, line: str):
        hits = self.lines.find(line) if self.lines is not None else []
        return hits[0] if hits else None

    async def start_duilian(self, channel_id: int, guild_id: int | None, starter: Player, now: datetime,
                            turn_seconds: int | None = 120, seed: int | None = None) -> Outcome:
        """The bot gives a 上联 (a real 律诗 line when the corpus is there, else its own) and
        everyone may answer until the time is up."""
        rng = random.Random(seed)
        original = source = None
        if self.couplets is not None:
            first, original = self.couplets.pick(rng)
            source = self._source(first)
        elif self.poet is None:
            return refusal(NO_POET)
        else:
            try:
                first = await generated_first_line(self.poet, rng)
            except PoetError as error:
                return refusal(say(error.code, error.zh, error.en))
        game = DuilianGame(first, [starter], turn_seconds, original=original, source=source,
                           starter_id=starter.id)
        game.begin(now)
        return await self._start(channel_id, guild_id, starter, game, lambda game: game.opening(),
                                 kind=GameKind.DUILIAN, form="corpus" if original else "poet", keyword=original)

    async def answer_couplet(self, text: str, seed: int | None = None) -> Outcome:
        """The bot's 下联 for a player's 上联 (nothing to store: it is one exchange)."""
        return await answer(self.poet, text, seed)

    async def join(self, channel_id: int, player: Player) -> Outcome:
        return await self._play(channel_id, lambda game: game.join(player))

    async def submit(self, channel_id: int, player: Player, text: str, now: datetime) -> Outcome:
        return await self._play(channel_id, lambda game: game.submit(player, text, now))

    async def pass_turn(self, channel_id: int, player: Player, now: datetime) -> Outcome:
        def move(game):
            if not isinstance(game, ChainGame):
                return refusal(say("no_pass", "这个游戏不能过。", "This game has no passing."))
            return game.pass_turn(player, now)

        return await self._play(channel_id, move)

    async def timeout(self, channel_id: int, now: datetime) -> Outcome:
        return await self._play(channel_id, lambda game: game.timeout(now, self.poet))

    async def bot_turn(self, channel_id: int, now: datetime) -> Outcome:
        return await self._play(channel_id, lambda game: game.bot_turn(now, self.poet))

    async def stop(self, channel_id: int, player: Player, moderator: bool = False) -> Outcome:
        return await self._play(channel_id, lambda game: game.stop(player.id, moderator))

    async def status(self, channel_id: int) -> TurnGame | None:
        """The channel's running game as it stands (a copy: changing it changes nothing)."""
        async with self.db.unit_of_work() as session:
            row = await repo.running_game(session, channel_id)
            return None if row is None else self._restore(row, await self._players(session, row))

    async def resume_all(self) -> list[Resumable]:
        """Running games and when each needs the scheduler, for rescheduling at start-up."""
        async with self.db.unit_of_work() as session:
            rows = await repo.games_to_resume(session)
            resumed = []
            for row in rows:
                game = self._restore(row, await self._players(session, row))
                rotation = game.rotation
                resumed.append(Resumable(row.id, row.channel_id, row.kind, rotation.current,
                                         rotation.deadline, rotation.reminder_at))
            return resumed
