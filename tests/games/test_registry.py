"""A game is one registered class: a tiny game written here is played through the service and
the console without touching any other module; and a 对对联 with an answer reaches its deadline
through the clock (with the real poet, whose couplet_likelihood ranks the answers)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from game_helpers import CHANNEL, DU_FU, GUILD, LI_BAI, NOW

from bot.console import ConsoleGames
from bot.games.clock import GameClock
from bot.games.common import (
    GAMES,
    GameResources,
    LinePoet,
    Move,
    Names,
    Opening,
    Outcome,
    Player,
    Say,
    TurnGame,
    note,
    refusal,
    say,
)
from bot.games.duilian import DuilianStart
from bot.games.service import GameService, game_service
from bot.services import Person
from engine.prosody import Reason
from storage.models import Game, GameKind, GameStatus, utcnow

ECHO_LINES = 2


@dataclass(frozen=True)
class EchoStart:
    async def open(self, starter: Player, now: datetime, resources: GameResources) -> Opening:
        game = EchoGame([starter], starter_id=starter.id)
        game.begin(now)
        return Opening(
            game, lambda: game.outcome(True, by=starter.id, notes=[note("started", "回声开始。", "Echo.")]), form="echo"
        )


class EchoGame(TurnGame):
    """Players take turns saying anything; two lines end it."""

    kind = GameKind.DUILIAN  # storage keeps only the shipped kinds, so the test's registry lends it one
    title = "回声"
    command = "echo"
    usage = "/echo start|join|line|status|stop"

    def __init__(self, players: list[Player], **turns: Any) -> None:
        super().__init__(players, False, None, **turns)
        self.said: list[str] = []

    @classmethod
    def restore(cls, row: Game, players: list[Player], resources: GameResources, **turns: Any) -> EchoGame:
        return cls(players, **turns)

    @classmethod
    def console_request(cls, words: list[str], options: dict[str, str]) -> EchoStart | Reason:
        return EchoStart()

    def status_lines(self, say: Say, name: Names) -> list[str]:
        return [say(f"回声：已说 {len(self.said)} 句", f"echo: {len(self.said)} said")]

    def replay(self, moves: list[Move]) -> None:
        self.said = [move.line for move in moves if move.accepted]
        self.finished = len(self.said) == ECHO_LINES

    def submit(self, player: Player, text: str, now: datetime) -> Outcome:
        refused = self.check_turn(player.id)
        if refused:
            return refused
        self.said.append(text)
        self.finished = len(self.said) == ECHO_LINES
        self.rotation.advance(now)
        return self.outcome(True, line=text, by=player.id, moves=[Move.played(text, player.id)])

    async def timeout(self, now: datetime, poet: LinePoet | None) -> Outcome:
        return refusal(say("not_due", "没有时限。", "No deadline."))

    async def bot_turn(self, now: datetime, poet: LinePoet | None) -> Outcome:
        return refusal(say("no_bot_turn", "机器人不玩。", "The bot does not play."))


ECHO_ONLY = {EchoGame.kind: EchoGame}


async def test_a_game_registered_here_plays_through_the_service(db):
    service = GameService(db, GameResources(None), games=ECHO_ONLY)
    started = await service.start(CHANNEL, GUILD, LI_BAI, EchoStart(), NOW)
    assert started.accepted and started.game_id is not None
    assert (await service.join(CHANNEL, EchoGame.kind, DU_FU)).accepted
    assert (await service.submit(CHANNEL, EchoGame.kind, LI_BAI, "山", NOW)).accepted
    assert [reason.code for reason in (await service.submit(CHANNEL, EchoGame.kind, LI_BAI, "水", NOW)).reasons] == [
        "not_your_turn"
    ]
    restored = await GameService(db, GameResources(None), games=ECHO_ONLY).status(CHANNEL)
    assert isinstance(restored, EchoGame) and restored.said == ["山"] and restored.rotation.current == DU_FU.id
    finished = await service.submit(CHANNEL, EchoGame.kind, DU_FU, "水", NOW)
    assert finished.finished and await service.status(CHANNEL) is None
    assert (await service.pass_turn(CHANNEL, EchoGame.kind, LI_BAI, NOW)).reasons[0].code == "no_game"


async def test_a_game_registered_here_plays_in_the_console(db):
    person = Person(LI_BAI.id, LI_BAI.display_name, "zh-CN")
    console = ConsoleGames(GameService(db, GameResources(None), games=ECHO_ONLY), person, games=ECHO_ONLY)
    assert set(console.commands) == {"/echo"}
    echo = console.commands["/echo"]
    assert "回声开始。" in await echo(["start"], {})
    assert "杜甫加入了游戏" in await echo(["join", "杜甫"], {})
    assert await echo(["line", "山"], {}) == "李白：山"
    assert "回声：已说 1 句" in await echo(["status"], {}) and "轮到杜甫" in await echo(["status"], {})
    assert await echo(["line", "水"], {}) == "杜甫：水"
    assert await echo(["dance"], {}) == EchoGame.usage
    assert set(GAMES) == set(GameKind)  # the shipped registry is untouched


async def test_a_duilian_with_an_answer_reaches_its_deadline_through_the_clock(db, poet, tmp_path):
    """It crashed here once: the poet the bot handed the games had no couplet_likelihood."""
    services = SimpleNamespace(settings=SimpleNamespace(corpus_dir=tmp_path), database=db, poet=poet)
    service = game_service(services)  # as the bot and the console build it (no corpus: the poet gives the 上联)
    announced: list[Outcome] = []
    done = asyncio.Event()

    async def announce(channel_id: int, outcome: Outcome) -> None:
        announced.append(outcome)
        done.set()

    async def remind(channel_id: int, turn: int | None, seconds_left: int) -> None:
        pass

    clock = GameClock(service, announce, remind)
    try:
        started = await service.start(CHANNEL, GUILD, LI_BAI, DuilianStart(turn_seconds=1, seed=5), utcnow())
        assert started.accepted and started.line
        clock.follow(CHANNEL, started)
        answered = await service.submit(CHANNEL, GameKind.DUILIAN, DU_FU, "明" * len(started.line), utcnow())
        assert answered.accepted and answered.score is not None
        clock.follow(CHANNEL, answered)
        await asyncio.wait_for(done.wait(), timeout=60)
    finally:
        await clock.close()
    [result] = announced
    assert result.finished and result.winner == DU_FU.id and result.line == "明" * len(started.line)
    assert [reason.code for reason in result.notes][:1] == ["best"]
    async with db.unit_of_work() as session:
        row = await session.get(Game, started.game_id)
        assert row is not None and row.status == GameStatus.FINISHED
