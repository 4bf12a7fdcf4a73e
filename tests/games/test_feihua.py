"""飞花令 on the fixture corpus: real lines, near misses, elimination, the bot, storage."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from game_helpers import CHANNEL, DU_FU, GUILD, LI_BAI, NOW, WANG_WEI

from bot.games.common import BOT, GameResources
from bot.games.feihua import FeihuaGame, FeihuaRules, FeihuaStart, key_character
from bot.games.service import GameService
from storage import repo
from storage.models import GameStatus


def feihua(line_index, bot_plays=False, strength="strong", players=(LI_BAI, DU_FU)) -> FeihuaGame:
    game = FeihuaGame(FeihuaRules("月", bot_plays, strength, 60), list(players), line_index)
    game.begin(NOW)
    return game


def codes(outcome) -> list[str]:
    return [reason.code for reason in outcome.reasons]


async def test_a_full_game_with_the_bot_until_one_is_left(line_index):
    game = feihua(line_index, bot_plays=True)
    first = game.submit(LI_BAI, "明月松间照，清泉石上流。", NOW)  # judged on the first clause
    assert first.accepted and first.line == "明月松间照" and first.turn == DU_FU.id
    assert "出自王维《山居秋暝》。" in first.text("zh") and (first.citation.author, first.citation.title) == (
        "王维",
        "山居秋暝",
    )
    assert game.submit(DU_FU, "月落乌啼霜满天", NOW).accepted
    bot = await game.bot_turn(NOW, seed=1)
    assert bot.accepted and bot.by == BOT and "月" in bot.line and bot.line not in ("明月松间照", "月落乌啼霜满天")
    assert line_index.find(bot.line) and bot.citation is not None
    missed = game.submit(LI_BAI, "床前明月光", NOW)
    assert codes(missed) == ["near_miss"] and "没背熟：原句是「床前看月光」（李白《静夜思》）。" in missed.text("zh")
    assert LI_BAI.id in game.rotation.out and missed.turn == DU_FU.id
    assert game.submit(DU_FU, "今夜鄜州月", NOW).accepted
    assert (await game.bot_turn(NOW, seed=2)).turn == DU_FU.id
    ended = await game.timeout(NOW + timedelta(seconds=60), None)
    assert ended.finished and ended.winner == BOT and "联句君胜出！" in ended.text("zh")
    assert codes(game.submit(DU_FU, "举头望山月", NOW)) == ["finished"]


@pytest.mark.parametrize(
    "text, code, out",
    [
        ("清泉石上流", "no_key", True),
        ("江上一轮明月圆", "not_in_corpus", True),
        ("举头望明月", "near_miss", True),
        ("moonlight", "non_han", False),
        ("明月🌙", "non_han", False),
        ("月" * 600, "too_long", False),
        ("月", "too_short", False),  # the first line of a 一字至七字诗, but no line recited
        ("明月", "too_short", False),
    ],
)
def test_every_refusal_says_why_and_wrong_answers_put_the_player_out(line_index, text, code, out):
    game = feihua(line_index, players=(LI_BAI, DU_FU, WANG_WEI))
    outcome = game.submit(LI_BAI, text, NOW)
    assert codes(outcome) == [code] and outcome.reasons[0].zh and outcome.reasons[0].en
    assert (LI_BAI.id in game.rotation.out) is out
    assert outcome.turn == (DU_FU.id if out else LI_BAI.id)


def test_repeats_are_refused_without_penalty_and_empty_text_is_not_recorded(line_index):
    game = feihua(line_index)
    assert game.submit(LI_BAI, "舉頭望山月", NOW).line == "举头望山月"  # traditional input
    repeat = game.submit(DU_FU, "举头望山月", NOW)
    assert codes(repeat) == ["repeat"] and [m.code for m in repeat.moves] == ["repeat"] and not game.rotation.out
    empty = game.submit(DU_FU, "\u200b ", NOW)
    assert codes(empty) == ["empty"] and empty.moves == [] and empty.turn == DU_FU.id
    assert codes(game.submit(DU_FU, "，", NOW)) == ["empty"]  # punctuation alone: no line to judge


def test_a_lone_player_who_fails_ends_the_game_without_a_winner(line_index):
    game = feihua(line_index, players=(LI_BAI,))
    outcome = game.submit(LI_BAI, "清泉石上流", NOW)
    assert outcome.finished and outcome.winner is None and "无人胜出。" in outcome.text("zh")


async def test_a_weak_bot_sometimes_gives_up_and_is_out(line_index):
    game = feihua(line_index, bot_plays=True, strength="weak", players=(LI_BAI,))
    assert game.submit(LI_BAI, "明月松间照", NOW).turn == BOT
    forgetful = next(seed for seed in range(100) if random.Random(seed).random() >= 0.6)
    outcome = await game.bot_turn(NOW, seed=forgetful)
    assert codes(outcome) == ["give_up"] and outcome.finished and outcome.winner == LI_BAI.id


def test_keys_rules_and_labels():
    assert key_character("花") == ("花", None) and key_character("風")[0] == "风"
    assert key_character("花月")[1].code == "key_length" and key_character("")[1].code == "empty"
    rules = FeihuaRules("月", True, "weak", 30)
    assert FeihuaRules.from_label(rules.label, "月", 30) == rules
    with pytest.raises(ValueError):
        FeihuaRules("月", strength="godlike")


async def test_stored_feihua_survives_a_restart_and_credits_the_winner(db, line_index):
    service = GameService(db, GameResources(None, line_index))
    assert codes(await service.start(CHANNEL, GUILD, LI_BAI, FeihuaStart("花月"), NOW)) == ["key_length"]
    started = await service.start(CHANNEL, GUILD, LI_BAI, FeihuaStart("月", bot_plays=False, turn_seconds=30), NOW)
    assert started.accepted and started.turn == LI_BAI.id and started.deadline == NOW + timedelta(seconds=30)
    await service.join(CHANNEL, FeihuaGame.kind, DU_FU)
    await service.join(CHANNEL, FeihuaGame.kind, WANG_WEI)
    assert (await service.submit(CHANNEL, FeihuaGame.kind, LI_BAI, "明月松间照", NOW)).accepted
    assert codes(await service.submit(CHANNEL, FeihuaGame.kind, DU_FU, "床前明月光", NOW)) == ["near_miss"]

    restarted = GameService(db, GameResources(None, line_index))  # as after a restart: everything from storage
    game = await restarted.status(CHANNEL)
    assert game.used == ["明月松间照"] and game.rotation.out == {DU_FU.id} and game.rotation.current == WANG_WEI.id
    [resumable] = await restarted.resume_all()
    assert resumable.deadline == NOW + timedelta(seconds=30) and resumable.turn == WANG_WEI.id
    assert codes(await restarted.submit(CHANNEL, FeihuaGame.kind, WANG_WEI, "明月松间照", NOW)) == ["repeat"]
    ended = await restarted.timeout(CHANNEL, NOW + timedelta(seconds=30))
    assert ended.finished and ended.winner == LI_BAI.id
    async with db.unit_of_work() as session:
        row = await repo.get_game(session, ended.game_id)
    assert row.status == GameStatus.FINISHED and row.keyword == "月"
    assert [(t.player_id, t.accepted, t.reason and t.reason.split(":")[0]) for t in row.turns] == [
        (LI_BAI.id, True, None),
        (DU_FU.id, False, "near_miss"),
        (WANG_WEI.id, False, "repeat"),
        (WANG_WEI.id, False, "timeout"),
    ]
