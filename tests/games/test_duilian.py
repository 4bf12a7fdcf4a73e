"""对对联: scoring answers, the round's end, the bot's own 下联, storage."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from game_helpers import CHANNEL, DU_FU, GUILD, LI_BAI, NOW, WANG_WEI

from bot.games.common import GameResources
from bot.games.duilian import CoupletBook, DuilianGame, DuilianStart, answer, ends_oblique, first_line, judged
from bot.games.service import GameService
from storage import repo
from storage.models import GameStatus

UPPER, LOWER = "无边落木萧萧下", "不尽长江衮衮来"  # 杜甫《登高》


def round_game(turn_seconds=60) -> DuilianGame:
    game = DuilianGame(UPPER, [LI_BAI], turn_seconds, original=LOWER)
    game.begin(NOW)
    return game


def codes(outcome) -> list[str]:
    return [reason.code for reason in outcome.reasons]


def test_scores_reward_opposed_tones_and_endings_and_explain_the_rest():
    assert judged(UPPER, LOWER) == (100, [])
    points, reasons = judged(UPPER, "无尽长江滚滚下")  # 无 and 下 repeated in place, ends 仄
    assert points < 100 and {"second_end", "same_char"} <= {reason.code for reason in reasons}
    assert judged(UPPER, "千山万水寒寒下")[0] < judged(UPPER, "千山万水寒寒来")[0]


def test_a_round_scores_every_answer_and_the_best_wins_at_the_deadline():
    game = round_game()
    weak = game.submit(DU_FU, "无尽长江滚滚下", NOW)
    strong = game.submit(WANG_WEI, LOWER, NOW)
    assert weak.accepted and strong.accepted and weak.score < strong.score == 100
    assert weak.turn is None and "分" in weak.text("zh") and "points" in weak.text("en")
    assert DU_FU.id in game.players  # anyone in the channel may answer


@pytest.mark.parametrize(
    "text, code",
    [("不尽长江", "length"), ("the long river", "non_han"), ("不尽长江🌊🌊来", "non_han"), ("江" * 600, "too_long")],
)
def test_answers_that_are_not_a_second_line_are_refused(text, code):
    outcome = round_game().submit(DU_FU, text, NOW)
    assert codes(outcome) == [code] and not outcome.accepted and outcome.reasons[0].en


def test_repeats_and_empty_answers_are_refused():
    game = round_game()
    assert game.submit(DU_FU, "不盡長江滾滾來", NOW).line == "不尽长江滚滚来"  # traditional input
    assert codes(game.submit(LI_BAI, "不尽长江滚滚来", NOW)) == ["repeat"]
    empty = game.submit(LI_BAI, "\u200b", NOW)
    assert codes(empty) == ["empty"] and empty.moves == []


async def test_the_deadline_ends_the_round_with_the_best_answer_and_the_original():
    game = round_game()
    assert codes(await game.timeout(NOW + timedelta(seconds=59))) == ["not_due"]
    game.submit(DU_FU, "无尽长江滚滚下", NOW)
    game.submit(WANG_WEI, "千山万水滚滚来", NOW)
    ended = await game.timeout(NOW + timedelta(seconds=60))
    assert ended.finished and ended.winner == WANG_WEI.id and ended.line == "千山万水滚滚来"
    assert "原对：无边落木萧萧下，不尽长江衮衮来。" in ended.text("zh")
    assert codes(game.submit(DU_FU, LOWER, NOW)) == ["finished"]
    nobody = await round_game().timeout(NOW + timedelta(seconds=60))
    assert "无人应对" in nobody.text("zh") and nobody.winner is None


async def test_the_model_breaks_ties_the_rules_cannot(poet):
    answers = ["万里青山处处来", "不尽长江滚滚来"]  # both 100 points by the rules
    assert {judged(UPPER, line)[0] for line in answers} == {100}
    game = round_game()
    for player, line in zip((DU_FU, WANG_WEI), answers):
        game.submit(player, line, NOW)
    likelihoods = {line: await poet.couplet_likelihood(UPPER, line) for line in answers}
    ended = await game.timeout(NOW + timedelta(seconds=60), poet)
    assert ended.line == max(answers, key=likelihoods.get)
    assert all(-20 < value < 0 for value in likelihoods.values())


async def test_the_bot_answers_a_players_first_line(poet):
    outcome = await answer(poet, UPPER, seed=3)
    assert outcome.accepted and len(outcome.line) == len(UPPER) and 0 <= outcome.score <= 100
    assert outcome.line != UPPER and "下联" in outcome.text("zh")
    for text, code in [("", "empty"), ("hello", "non_han"), ("二字", "first_length"), ("一" * 12, "first_length")]:
        assert codes(await answer(poet, text)) == [code]
    assert codes(await answer(None, UPPER)) == ["no_poet"]
    assert first_line("无边落木，萧萧下") == ("无边落木萧萧下", None)


def test_corpus_couplets_are_picked_with_an_oblique_ending(built_corpus):
    import random

    book = CoupletBook(built_corpus / "couplets.jsonl")
    rng = random.Random(7)
    picks = {book.pick(rng) for _ in range(20)}
    real = {
        (record["first"], record["second"])
        for record in map(json.loads, (built_corpus / "couplets.jsonl").read_text("utf-8").splitlines())
    }
    assert picks <= real and all(ends_oblique(first) for first, _ in picks) and len(picks) > 1


async def test_a_stored_round_survives_a_restart(db, line_index, built_corpus):
    service = GameService(db, GameResources(None, line_index, CoupletBook(built_corpus / "couplets.jsonl")))
    started = await service.start(CHANNEL, GUILD, LI_BAI, DuilianStart(turn_seconds=90, seed=1), NOW)
    assert started.accepted and started.citation is not None and line_index.find(started.line)
    assert started.deadline == NOW + timedelta(seconds=90)
    first = started.line
    assert (await service.submit(CHANNEL, DuilianGame.kind, DU_FU, "一" * len(first), NOW)).accepted
    assert codes(await service.submit(CHANNEL, DuilianGame.kind, WANG_WEI, "一二", NOW)) == ["length"]

    restarted = GameService(db, GameResources(None, line_index, CoupletBook(built_corpus / "couplets.jsonl")))
    game = await restarted.status(CHANNEL)
    assert game.first == first and [a[:2] for a in game.answers] == [("一" * len(first), DU_FU.id)]
    assert game.source is not None and game.original
    ended = await restarted.timeout(CHANNEL, NOW + timedelta(seconds=90))
    assert ended.finished and ended.winner == DU_FU.id and f"原对：{first}，{game.original}。" in ended.text("zh")
    async with db.unit_of_work() as session:
        row = await repo.get_game(session, ended.game_id)
    assert row.status == GameStatus.FINISHED and [t.accepted for t in row.turns] == [True, True, False]


async def test_without_corpus_couplets_the_poet_writes_the_first_line(db, poet):
    started = await GameService(db, GameResources(poet)).start(CHANNEL, GUILD, LI_BAI, DuilianStart(seed=5), NOW)
    assert started.accepted and len(started.line) in (5, 7) and started.citation is None
