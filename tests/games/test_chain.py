"""联句: the judge, turns, passing, timeouts, the bot, completion, and storage across restarts."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from game_helpers import CHANNEL, DU_FU, GUILD, LI_BAI, NOW, OTHER_CHANNEL, WANG_WEI

from bot.games.chain import ChainGame, ChainRules, ChainStart, chain_form, open_form
from bot.games.common import BOT, GameResources, Player
from bot.games.service import GameService
from engine.prosody import check
from storage import repo
from storage.models import GameKind, GameStatus, PoemOrigin

FENGQIAO = ["月落乌啼霜满天", "江枫渔父对愁眠", "姑苏城外寒山寺", "夜半钟声到客船"]  # 下平声一先
CHAIN_PLAYER = Path(__file__).with_name("chain_player.py")


def chain(form="qijue", strict=False, bot_plays=False, players=(LI_BAI, DU_FU), turn_seconds=120) -> ChainGame:
    game = ChainGame(ChainRules(chain_form(form), strict, bot_plays, turn_seconds), list(players))
    game.begin(NOW)
    return game


def refusal_codes(game: ChainGame, player: Player, text: str) -> list[str]:
    outcome = game.submit(player, text, NOW)
    assert not outcome.accepted and all(reason.zh and reason.en for reason in outcome.reasons)
    return [reason.code for reason in outcome.reasons]


# --- the judge ---------------------------------------------------------------------------------


def test_a_full_game_takes_turns_fixes_the_rhyme_and_credits_every_line():
    game = chain()
    outcomes = [game.submit(player, line, NOW) for player, line in zip([LI_BAI, DU_FU] * 2, FENGQIAO)]
    assert all(outcome.accepted for outcome in outcomes)
    assert [outcome.turn for outcome in outcomes[:3]] == [DU_FU.id, LI_BAI.id, DU_FU.id]
    assert "韵部定为下平声一先。" in outcomes[1].text("zh") and "下平声一先" in outcomes[1].text("en")
    assert outcomes[-1].finished and outcomes[-1].turn is None
    assert outcomes[-1].poem == list(zip(FENGQIAO, [LI_BAI.id, DU_FU.id] * 2))
    assert check("，".join(FENGQIAO), "qijue").ok


@pytest.mark.parametrize(
    "text, code",
    [
        ("月落乌啼霜满", "length"),
        ("月落乌啼霜满天江", "length"),
        ("moon over the river", "non_han"),
        ("月落乌啼霜满🌙", "non_han"),
        ("月落乌啼霜满天，江枫渔父对愁眠", "several_lines"),
        ("月" * 600, "too_long"),
    ],
)
def test_shape_and_script_are_refused_with_reasons(text, code):
    assert refusal_codes(chain(), LI_BAI, text) == [code]


def test_empty_input_is_refused_and_not_recorded():
    game = chain()
    for text in ("", "   ", "\u200b\u200d", "\x00\x07"):
        outcome = game.submit(LI_BAI, text, NOW)
        assert [reason.code for reason in outcome.reasons] == ["empty"] and outcome.moves == []
    assert game.rejections == 0 and game.rotation.current == LI_BAI.id
    punctuation = game.submit(LI_BAI, "，。！", NOW)  # typed, so kept like any refused line, but no line to judge
    assert [reason.code for reason in punctuation.reasons] == ["empty"] and game.rotation.current == LI_BAI.id


def test_traditional_characters_and_stray_invisible_characters_are_normalised():
    outcome = chain().submit(LI_BAI, "\u200b月落烏啼霜滿天。\x07", NOW)
    assert outcome.accepted and outcome.line == "月落乌啼霜满天"
    half_an_emoji = chain().submit(LI_BAI, "月落乌啼\ud83c霜满天", NOW)  # a lone surrogate a client sent
    assert half_an_emoji.accepted and half_an_emoji.line == "月落乌啼霜满天"


def test_repeats_and_wrong_rhymes_are_refused():
    game = chain()
    for player, line in zip([LI_BAI, DU_FU], FENGQIAO[:2]):
        assert game.submit(player, line, NOW).accepted
    assert refusal_codes(game, LI_BAI, FENGQIAO[0]) == ["repeat"]
    assert game.submit(LI_BAI, FENGQIAO[2], NOW).accepted
    assert refusal_codes(game, DU_FU, "夜半钟声到客家") == ["rhyme"]  # 家: 下平声六麻
    assert refusal_codes(game, DU_FU, "夜半钟声到客舍") == ["rhyme_tone"]  # 舍 is 仄


def test_a_rhyme_slot_under_lenient_rules_needs_no_tones_but_strict_rules_do():
    lenient, strict = chain(), chain(strict=True)
    for game in (lenient, strict):
        assert game.submit(LI_BAI, FENGQIAO[0], NOW).accepted
    # 江枫渔父对愁眠 with 枫→叶: 仄 at the 2nd character breaks 对 with 落 (仄) above.
    assert lenient.submit(DU_FU, "江叶渔父对愁眠", NOW).accepted
    assert refusal_codes(strict, DU_FU, "江叶渔父对愁眠") == ["pairing", "tone"]
    assert strict.submit(DU_FU, FENGQIAO[1], NOW).accepted
    # The third line must stick (粘) to the second: its 2nd character 平, like 枫.
    assert refusal_codes(strict, LI_BAI, "姑月城外寒山寺")[0] == "sticking"
    reasons = strict.submit(LI_BAI, "姑苏城外寒山天", NOW).reasons  # 天 where 仄 belongs
    assert [reason.code for reason in reasons] == ["tone"] and "第7字「天」应为仄声" in reasons[0].zh


# --- turns -------------------------------------------------------------------------------------


def test_out_of_turn_and_outsiders_are_refused_without_a_record():
    game = chain()
    assert refusal_codes(game, DU_FU, FENGQIAO[0]) == ["not_your_turn"]
    assert refusal_codes(game, WANG_WEI, FENGQIAO[0]) == ["not_playing"]
    assert game.join(WANG_WEI).accepted and not game.join(WANG_WEI).accepted
    assert game.rotation.order == [LI_BAI.id, DU_FU.id, WANG_WEI.id]


def test_three_refusals_pass_the_turn():
    game = chain()
    first = game.submit(LI_BAI, "月落乌啼", NOW)
    assert "本轮还可再试 2 次。" in first.text() and len(first.moves) == 1
    game.submit(LI_BAI, "moon", NOW)
    third = game.submit(LI_BAI, "月落乌啼霜", NOW)
    assert [note.code for note in third.notes] == ["passed_after_rejections", "turn"]
    assert third.turn == DU_FU.id and third.deadline == NOW + timedelta(seconds=120)
    assert [move.code for move in third.moves] == ["length"] and game.rejections == 0


def test_a_player_can_pass_and_the_starter_can_stop():
    game = chain()
    passed = game.pass_turn(LI_BAI, NOW)
    assert passed.turn == DU_FU.id and [move.code for move in passed.moves] == ["pass"]
    assert [reason.code for reason in game.stop(DU_FU.id).reasons] == ["not_starter"]
    stopped = game.stop(LI_BAI.id)
    assert stopped.finished and stopped.abandoned
    assert [reason.code for reason in game.submit(DU_FU, FENGQIAO[0], NOW).reasons] == ["finished"]


async def test_timeouts_pass_the_turn_and_early_or_stale_ones_do_nothing():
    game, poet = chain(turn_seconds=60), None
    assert game.rotation.reminder_at == NOW + timedelta(seconds=30)
    early = await game.timeout(NOW + timedelta(seconds=59), poet)
    assert [reason.code for reason in early.reasons] == ["not_due"] and early.moves == []
    late = await game.timeout(NOW + timedelta(seconds=60), poet)
    assert late.turn == DU_FU.id and [move.code for move in late.moves] == ["timeout"]
    assert late.deadline == NOW + timedelta(seconds=120)
    stale = await game.timeout(NOW + timedelta(seconds=61), poet)  # the timer of the old turn
    assert stale.moves == [] and game.rotation.current == DU_FU.id


async def test_the_bot_writes_the_line_of_a_timed_out_turn_and_plays_its_own(poet):
    game = chain(bot_plays=True)
    assert game.rotation.order == [LI_BAI.id, DU_FU.id, BOT]
    assert game.submit(LI_BAI, FENGQIAO[0], NOW).accepted
    covered = await game.timeout(NOW + timedelta(seconds=120), poet)
    assert covered.accepted and covered.by == BOT and covered.turn == BOT and covered.bot_to_play
    assert game.rhyme_group is not None and game.lines[1] == (covered.line, BOT)
    own = await game.bot_turn(NOW, poet)
    assert own.accepted and own.by == BOT and own.turn == LI_BAI.id
    assert [len(line) for line, _ in game.lines] == [7, 7, 7]


async def test_the_bot_opens_on_a_theme_and_finishes_an_open_chain(poet):
    game = ChainGame(ChainRules(open_form(5, 10), strict=True, bot_plays=True), [LI_BAI])
    opened = await game.open(NOW, poet, theme="月")
    assert opened.accepted and opened.by == BOT and opened.turn == LI_BAI.id
    while not game.finished:
        outcome = await (
            game.bot_turn(NOW, poet) if game.rotation.current == BOT else game.timeout(game.rotation.deadline, poet)
        )
    assert outcome.finished and len(outcome.poem) == 10 and {author for _, author in outcome.poem} == {BOT}
    assert game.poet_window() == [line for line, _ in game.lines[4:]]  # the last three whole couplets
    assert all(len(line) == 5 for line, _ in game.lines)


async def test_without_a_poet_the_bot_cannot_open_and_its_turns_pass():
    game = chain(bot_plays=True, players=(LI_BAI,))
    assert [reason.code for reason in (await game.open(NOW, None)).reasons] == ["no_poet"]
    assert game.submit(LI_BAI, FENGQIAO[0], NOW).turn == BOT
    passed = await game.bot_turn(NOW, None)
    assert passed.turn == LI_BAI.id and [move.code for move in passed.moves] == ["pass"]
    assert "no_poet" in [note.code for note in passed.notes]


def test_forms_and_rules_round_trip_through_their_stored_label():
    rules = ChainRules(open_form(7, 12), strict=True, bot_plays=True, turn_seconds=90)
    assert rules.label == "open7x12 严 bot" and ChainRules.from_label(rules.label, 90) == rules
    assert ChainRules.from_label("wujue 宽", None) == ChainRules(chain_form("五绝"), False, False, None)
    with pytest.raises(ValueError):
        open_form(6, 8)
    with pytest.raises(ValueError):
        open_form(7, 9)


# --- storage -------------------------------------------------------------------------------------


async def test_a_stored_game_is_completed_saved_with_authors_and_finished(db, poet):
    service = GameService(db, GameResources(poet))
    rules = ChainRules(chain_form("七绝"), strict=False, bot_plays=True)
    started = await service.start(CHANNEL, GUILD, LI_BAI, ChainStart(rules, opening=FENGQIAO[0]), NOW)
    assert started.accepted and started.turn == BOT
    busy = await service.start(CHANNEL, GUILD, DU_FU, ChainStart(rules, opening=FENGQIAO[0]), NOW)
    assert [reason.code for reason in busy.reasons] == ["busy"]
    other = await service.submit(CHANNEL, GameKind.DUILIAN, DU_FU, FENGQIAO[1], NOW)  # a 对对联 answer
    assert [reason.code for reason in other.reasons] == ["other_game"] and "正在玩联句" in other.reasons[0].zh
    assert [r.code for r in (await service.stop(CHANNEL, GameKind.FEIHUA, LI_BAI)).reasons] == ["other_game"]
    assert (await service.join(CHANNEL, ChainGame.kind, DU_FU)).accepted  # seated before the bot, which plays last
    assert (await service.bot_turn(CHANNEL, NOW)).turn == LI_BAI.id
    wrong = await service.submit(CHANNEL, ChainGame.kind, DU_FU, FENGQIAO[2], NOW)
    assert [reason.code for reason in wrong.reasons] == ["not_your_turn"]
    third = await service.submit(CHANNEL, ChainGame.kind, LI_BAI, FENGQIAO[2], NOW)
    assert third.accepted and third.turn == DU_FU.id
    game = await service.status(CHANNEL)
    last = "夜半钟声到客" + game.lines[1][0][-1]  # rhymes with the bot's line, whatever its group
    done = await service.submit(CHANNEL, ChainGame.kind, DU_FU, last, NOW)
    assert done.finished and done.poem_id is not None

    async with db.unit_of_work() as session:
        poem = await repo.get_poem(session, done.poem_id)
        row = await repo.get_game(session, done.game_id)
    assert poem.origin == PoemOrigin.GAME and poem.game_id == done.game_id and poem.form == "qijue"
    assert [(a.user_id, a.by_bot) for a in poem.authors] == [
        (LI_BAI.id, False),
        (None, True),
        (LI_BAI.id, False),
        (DU_FU.id, False),
    ]
    assert row.status == GameStatus.FINISHED and row.rhyme_group == game.rhyme_group
    assert await service.status(CHANNEL) is None


async def test_the_database_is_free_for_others_while_the_bot_writes_its_line(db, poet):
    writing, go_on = asyncio.Event(), asyncio.Event()

    class HeldPoet:
        """The real poet, held at the start of each line until the test lets it go."""

        async def continue_line(self, *args, **kwargs) -> str:
            writing.set()
            await go_on.wait()
            return await poet.continue_line(*args, **kwargs)

    async def meanwhile_someone_writes(move) -> object:
        writing.clear(), go_on.clear()
        moving = asyncio.create_task(move)
        await writing.wait()
        async with asyncio.timeout(5):  # a rating, a poem, a join elsewhere: SQLite's one write lock is free
            async with db.unit_of_work() as session:
                await repo.upsert_user(session, WANG_WEI)
        go_on.set()
        return await moving

    service = GameService(db, GameResources(HeldPoet()))
    rules = ChainRules(chain_form("七绝"), strict=False, bot_plays=True)
    opened = await meanwhile_someone_writes(service.start(CHANNEL, GUILD, LI_BAI, ChainStart(rules), NOW))
    assert opened.accepted and opened.by == BOT and opened.turn == LI_BAI.id
    answered = await service.start(OTHER_CHANNEL, GUILD, LI_BAI, ChainStart(rules, opening=FENGQIAO[0]), NOW)
    assert answered.accepted and answered.turn == BOT
    assert (await meanwhile_someone_writes(service.bot_turn(OTHER_CHANNEL, NOW))).by == BOT


async def test_turns_refusals_and_the_clock_are_stored(db):
    service = GameService(db, GameResources(poet=None))
    rules = ChainRules(chain_form("五绝"), bot_plays=False, turn_seconds=60)
    await service.start(CHANNEL, GUILD, LI_BAI, ChainStart(rules, opening="白日依山尽"), NOW)
    await service.join(CHANNEL, ChainGame.kind, DU_FU)  # seated after the opening: the starter plays on until then
    for text in ("黄河入海", "白日依山尽", "黄河入海流"):
        await service.submit(CHANNEL, ChainGame.kind, LI_BAI, text, NOW + timedelta(seconds=10))
    async with db.unit_of_work() as session:
        row = await repo.running_game(session, CHANNEL)
    assert [(t.line, t.player_id, t.accepted, t.reason and t.reason.split(":")[0]) for t in row.turns] == [
        ("白日依山尽", LI_BAI.id, True, None),
        ("黄河入海", LI_BAI.id, False, "length"),
        ("白日依山尽", LI_BAI.id, False, "repeat"),
        ("黄河入海流", LI_BAI.id, True, None),
    ]
    assert row.current_seat == 1 and row.turn_deadline == NOW + timedelta(seconds=70)
    assert row.rhyme_group == "下平声十一尤"
    resumed = await service.resume_all()
    assert [(r.channel_id, r.deadline, r.reminder_at) for r in resumed] == [
        (CHANNEL, row.turn_deadline, row.turn_deadline - timedelta(seconds=30))
    ]


async def test_no_game_and_other_channels(db):
    service = GameService(db, GameResources(poet=None))
    zero_seconds = ChainRules(chain_form("五绝"), turn_seconds=0)
    refused = await service.start(CHANNEL, GUILD, LI_BAI, ChainStart(zero_seconds, opening="白日依山尽"), NOW)
    assert [r.code for r in refused.reasons] == ["invalid_setting"] and "turn_seconds" in refused.reasons[0].en
    assert await service.status(CHANNEL) is None
    assert [
        r.code for r in (await service.submit(OTHER_CHANNEL, ChainGame.kind, LI_BAI, "白日依山尽", NOW)).reasons
    ] == ["no_game"]


async def test_a_game_goes_on_in_another_process_and_back(db, database_url, poet):
    service = GameService(db, GameResources(poet))
    rules = ChainRules(chain_form("七绝"), strict=False, bot_plays=True)
    await service.start(CHANNEL, GUILD, LI_BAI, ChainStart(rules, opening=FENGQIAO[0]), NOW)
    await service.join(CHANNEL, ChainGame.kind, DU_FU)  # the order is now 李白, 杜甫, the bot, whose turn it is
    assert (await service.status(CHANNEL)).rotation.current == BOT
    moves = [
        "bot",
        f"{LI_BAI.id}:江枫渔父对愁",
        f"{LI_BAI.id}:{FENGQIAO[2]}",
        f"{DU_FU.id}:夜半钟声到客家",
        f"{DU_FU.id}:night bell",
    ]
    player = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CHAIN_PLAYER),
        database_url,
        str(CHANNEL),
        *moves,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    said, errors = await asyncio.wait_for(player.communicate(), 120)
    assert player.returncode == 0, errors.decode()
    assert said.decode().split("\n")[:5] == [
        f"True - {LI_BAI.id}",
        f"False length {LI_BAI.id}",
        f"True - {DU_FU.id}",
        f"False rhyme {DU_FU.id}",
        f"False non_han {DU_FU.id}",
    ]

    # A fresh service on the same database picks the game up where the other process left it.
    resumed = GameService(db, GameResources(poet))
    game = await resumed.status(CHANNEL)
    assert [author for _, author in game.lines] == [LI_BAI.id, BOT, LI_BAI.id]
    assert game.rejections == 2 and game.rotation.current == DU_FU.id
    third = await resumed.submit(CHANNEL, ChainGame.kind, DU_FU, "夜半钟声", NOW)  # the third refusal passes the turn
    assert third.turn == BOT and "passed_after_rejections" in [note.code for note in third.notes]
    done = await resumed.bot_turn(CHANNEL, NOW)
    assert done.finished and [author for _, author in done.poem] == [LI_BAI.id, BOT, LI_BAI.id, BOT]
    async with db.unit_of_work() as session:
        poem = await repo.get_poem(session, done.poem_id)
    assert [(a.user_id, a.by_bot) for a in poem.authors] == [
        (LI_BAI.id, False),
        (None, True),
        (LI_BAI.id, False),
        (None, True),
    ]
