"""How real lines end (engine.endings): the counts and the lookahead the sampler weighs candidates by."""

import pytest
import torch

from engine.endings import MIN_PAIR_COUNT, SHIPPED_ENDINGS, EndingLookahead, LineEndings, build_line_endings


def test_counts_the_last_two_characters_of_each_line(tmp_path):
    records = [
        {"lines": ["独步自徘徊", "明月照高楼"]},
        {"lines": ["客心空徘徊", "江上望高楼", "明月"]},
        {"lines": ["青山一点愁"]},  # 点愁 once: below MIN_PAIR_COUNT
    ]
    endings = build_line_endings(records)
    assert MIN_PAIR_COUNT == 2
    assert endings.pairs == {"徘": {"徊": 2}, "高": {"楼": 2}}
    endings.save(tmp_path / "endings.json.gz")
    assert LineEndings.load(tmp_path / "endings.json.gz") == endings


def test_a_candidate_scores_by_how_often_real_lines_go_on_to_an_allowed_ending():
    ids = {c: i for i, c in enumerate("徘徊高楼明月年娟")}
    endings = LineEndings({"徘": {"徊": 40}, "高": {"楼": 30, "年": 10}, "明": {"月": 20, "年": 20}})
    lookahead = EndingLookahead(endings, ids, len(ids))
    candidates = torch.tensor([ids["徘"], ids["高"], ids["明"], ids["娟"]])

    def chances(allowed: str) -> list[float]:
        mask = torch.zeros(len(ids), dtype=torch.bool)
        mask[[ids[c] for c in allowed]] = True
        return lookahead.log_chance(candidates, mask).exp().tolist()

    wander, high, bright, unseen = chances("年娟")
    assert high < bright  # 高年 ends 10 of 40 lines, 明年 20 of 40
    assert wander < high  # no line ends 徘年: only the prior's share is left
    assert unseen == pytest.approx(30 / 120)  # never second-to-last: the corpus-wide share of 年 endings
    wander, high, bright, unseen = chances("徊")
    assert wander > 0.85 and high < 0.2 and bright < 0.2


def test_the_shipped_counts_know_common_endings():
    pairs = LineEndings.load(SHIPPED_ENDINGS).pairs
    assert pairs["徘"]["徊"] > 100 and pairs["明"]["月"] > 100
    assert "娟" not in pairs["徘"]
