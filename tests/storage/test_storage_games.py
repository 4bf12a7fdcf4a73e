"""Games and their turns: every turn is committed on its own, so a crash between turns loses none."""

import asyncio
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage import repo
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import GameKind, GameStatus
from storage.repo import DiscordUser, NewGame

CHANNEL = 987_654_321
WANGWEI, MENGHAOREN, CENSHEN = DiscordUser(1, "王维"), DiscordUser(2, "孟浩然"), DiscordUser(3, "岑参")
TURN_WRITER = Path(__file__).with_name("turn_writer.py")


def chain_game(**fields) -> NewGame:
    return NewGame(
        **{
            "kind": GameKind.CHAIN,
            "channel_id": CHANNEL,
            "guild_id": 5,
            "players": [WANGWEI, MENGHAOREN, CENSHEN],
            "form": "wulv",
            "rhyme_group": "下平十一尤",
            "turn_seconds": 90,
            "started_by": WANGWEI,
            **fields,
        }
    )


async def start(db, game: NewGame):
    async with db.unit_of_work() as session:
        return await repo.start_game(session, game)


async def play(db, game_id, line, player, accepted=True, reason=None):
    async with db.unit_of_work() as session:
        return await repo.record_turn(session, game_id, line, player=player, accepted=accepted, reason=reason)


async def test_start_seats_players_in_order_and_starts_the_clock(db):
    game = await start(db, chain_game())
    async with db.unit_of_work() as session:
        loaded = await repo.get_game(session, game.id)
    assert (loaded.kind, loaded.status, loaded.form, loaded.rhyme_group) == (
        GameKind.CHAIN,
        GameStatus.ACTIVE,
        "wulv",
        "下平十一尤",
    )
    assert [(p.user_id, p.seat) for p in loaded.players] == [(1, 0), (2, 1), (3, 2)]
    assert loaded.current_seat == 0 and loaded.turn_count == 0 and loaded.turns == []
    expected = datetime.now(UTC) + timedelta(seconds=90)
    assert abs(loaded.turn_deadline - expected) < timedelta(seconds=30)


async def test_one_running_game_per_channel(db):
    first = await start(db, chain_game())
    with pytest.raises(Conflict, match=f"already has a running game \\(#{first.id}\\)"):
        await start(db, chain_game(kind="feihua", keyword="花"))
    await start(db, chain_game(channel_id=CHANNEL + 1))  # another channel is free

    async with db.unit_of_work() as session:
        await repo.finish_game(session, first.id)
    again = await start(db, chain_game())  # a finished game frees the channel
    assert again.id != first.id


async def test_two_simultaneous_starts_in_one_channel_make_one_game(db):
    results = await asyncio.gather(
        *(start(db, chain_game(players=[player])) for player in (WANGWEI, MENGHAOREN, CENSHEN)),
        return_exceptions=True,
    )
    started = [result for result in results if not isinstance(result, BaseException)]
    refused = [result for result in results if isinstance(result, BaseException)]
    assert len(started) == 1 and len(refused) == 2
    assert all(isinstance(error, Conflict) for error in refused), refused
    async with db.unit_of_work() as session:
        assert [game.id for game in await repo.games_to_resume(session)] == [started[0].id]


async def test_turns_are_numbered_and_keep_who_played_and_why_rejected(db):
    game = await start(db, chain_game())
    await play(db, game.id, "空山新雨后", WANGWEI)
    await play(db, game.id, "天气晚来春", MENGHAOREN, accepted=False, reason="「春」不押下平十一尤")
    await play(db, game.id, "天气晚来秋", MENGHAOREN)
    await play(db, game.id, "明月松间照", None)  # the bot fills in for 岑参

    async with db.unit_of_work() as session:
        loaded = await repo.get_game(session, game.id)
    assert [(t.number, t.player_id, t.by_bot, t.line, t.accepted, t.reason) for t in loaded.turns] == [
        (1, 1, False, "空山新雨后", True, None),
        (2, 2, False, "天气晚来春", False, "「春」不押下平十一尤"),
        (3, 2, False, "天气晚来秋", True, None),
        (4, None, True, "明月松间照", True, None),
    ]
    assert loaded.turn_count == 4


async def test_bad_turns_are_refused(db):
    game = await start(db, chain_game())
    with pytest.raises(InvalidInput, match="reason: a rejected turn needs the reason"):
        await play(db, game.id, "天气晚来春", MENGHAOREN, accepted=False)
    with pytest.raises(InvalidInput, match="line: is empty"):
        await play(db, game.id, "   ", MENGHAOREN)
    with pytest.raises(InvalidInput, match="line: is 101 characters long; the limit is 100"):
        await play(db, game.id, "秋" * 101, MENGHAOREN)
    with pytest.raises(InvalidInput, match="accepted: expected True or False"):
        await play(db, game.id, "天气晚来秋", MENGHAOREN, accepted="yes")
    with pytest.raises(NotFound, match="game 999999 does not exist"):
        await play(db, 999_999, "天气晚来秋", MENGHAOREN)

    async with db.unit_of_work() as session:
        await repo.finish_game(session, game.id, "abandoned")
    with pytest.raises(Conflict, match=f"game #{game.id} is abandoned"):
        await play(db, game.id, "天气晚来秋", MENGHAOREN)
    async with db.unit_of_work() as session:
        assert (await repo.get_game(session, game.id)).turns == []


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"players": []}, "players: a game needs at least one player"),
        ({"players": [WANGWEI, WANGWEI]}, "players: a player can take only one seat"),
        ({"kind": "mahjong"}, "kind: 'mahjong' is not one of: chain, feihua, duilian"),
        ({"channel_id": 0}, "channel_id: expected a Discord id"),
        ({"turn_seconds": 0}, "turn_seconds: expected an integer from 1 to 86400"),
        ({"keyword": "花" * 33}, "keyword: is 33 characters long; the limit is 32"),
    ],
)
def test_bad_games_are_refused(fields, message):
    with pytest.raises(InvalidInput) as refused:
        chain_game(**fields)
    assert message in str(refused.value)


async def test_concurrent_turns_get_distinct_numbers(db):
    game = await start(db, chain_game())
    players = [WANGWEI, MENGHAOREN, CENSHEN] * 4
    await asyncio.gather(*(play(db, game.id, f"第{n}句", player) for n, player in enumerate(players)))
    async with db.unit_of_work() as session:
        loaded = await repo.get_game(session, game.id)
    assert [turn.number for turn in loaded.turns] == list(range(1, 13))
    assert loaded.turn_count == 12 and sorted(turn.line for turn in loaded.turns) == sorted(
        f"第{n}句" for n in range(12)
    )


async def test_games_to_resume_come_with_players_and_turns(db):
    running = await start(db, chain_game())
    finished = await start(db, chain_game(channel_id=CHANNEL + 1))
    await play(db, running.id, "空山新雨后", WANGWEI)
    async with db.unit_of_work() as session:
        await repo.set_turn(session, running.id, 1, None)
        await repo.finish_game(session, finished.id)
        with pytest.raises(InvalidInput, match="finishes as finished or abandoned"):
            await repo.finish_game(session, running.id, GameStatus.ACTIVE)
    async with db.unit_of_work() as session:
        resumable = await repo.games_to_resume(session)
    # Read after the session closed: players and turns were loaded with the games.
    assert [game.id for game in resumable] == [running.id]
    assert [player.user_id for player in resumable[0].players] == [1, 2, 3]
    assert [turn.line for turn in resumable[0].turns] == ["空山新雨后"]
    assert resumable[0].current_seat == 1


async def test_killing_the_process_between_turns_loses_no_committed_turn(db, database_url):
    player = DiscordUser(4242, "王维")
    game_id = (await start(db, chain_game(players=[player]))).id
    writer = await asyncio.create_subprocess_exec(
        sys.executable,
        str(TURN_WRITER),
        database_url,
        str(game_id),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        said = [(await asyncio.wait_for(writer.stdout.readline(), 60)).decode().strip() for _ in range(3)]
    finally:
        writer.send_signal(signal.SIGKILL)
        _, errors = await writer.communicate()
    assert said == ["committed 1", "committed 2", "pending 3"], errors.decode()
    assert writer.returncode == -signal.SIGKILL

    async with db.unit_of_work() as session:
        game = await repo.get_game(session, game_id)
        assert [(turn.number, turn.line) for turn in game.turns] == [(1, "空山新雨后"), (2, "天气晚来秋")]
        assert game.turn_count == 2 and game.status == GameStatus.ACTIVE
        assert [resumed.id for resumed in await repo.games_to_resume(session)] == [game_id]
    # The game goes on where it stopped: the uncommitted third turn left no trace.
    assert (await play(db, game_id, "明月松间照", player)).number == 3


async def test_set_turn_gives_the_turn_to_a_seat_or_the_bot_with_the_callers_deadline(db):
    game = await start(db, chain_game())
    deadline = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    async with db.unit_of_work() as session:
        await repo.set_turn(session, game.id, 2, deadline)
    async with db.unit_of_work() as session:
        loaded = await repo.get_game(session, game.id)
        assert (loaded.current_seat, loaded.turn_deadline) == (2, deadline)
        await repo.set_turn(session, game.id, repo.BOT_SEAT, None)
    async with db.unit_of_work() as session:
        loaded = await repo.get_game(session, game.id)
        assert (loaded.current_seat, loaded.turn_deadline) == (repo.BOT_SEAT, None)
        with pytest.raises(InvalidInput, match="seat: game #\\d+ has no seat 7"):
            await repo.set_turn(session, game.id, 7, None)
        with pytest.raises(InvalidInput, match="deadline: expected an aware datetime"):
            await repo.set_turn(session, game.id, 0, datetime(2030, 1, 1))


async def test_running_game_finds_the_channels_active_game_only(db):
    game = await start(db, chain_game())
    async with db.unit_of_work() as session:
        assert (await repo.running_game(session, CHANNEL)).id == game.id
        assert await repo.running_game(session, CHANNEL + 1) is None
        await repo.finish_game(session, game.id)
    async with db.unit_of_work() as session:
        assert await repo.running_game(session, CHANNEL) is None
        with pytest.raises(InvalidInput, match="channel_id: expected a Discord id"):
            await repo.running_game(session, 0)


async def test_a_game_whose_every_player_was_forgotten_still_seats_a_newcomer(db):
    # 对对联 goes on when its starter forgets themselves: anyone in the channel may still answer
    game = await start(db, chain_game(kind=GameKind.DUILIAN, players=[WANGWEI], form=None, rhyme_group=None))
    async with db.unit_of_work() as session:
        await repo.forget_user(session, WANGWEI.id)
    async with db.unit_of_work() as session:
        joined = await repo.join_game(session, game.id, MENGHAOREN)
        assert [(seat.user_id, seat.seat) for seat in joined.players] == [(MENGHAOREN.id, 0)]
