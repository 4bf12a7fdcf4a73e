"""The sampler's choice of one token: plan words written whole and in the line's rhythm, repeated
characters charged. Unit tests on hand-made logits, then the real model's poems."""

import asyncio
from collections import Counter

import pytest
import torch

from bot.config import SHIPPED_MODEL, get_settings
from engine.poet import Poet
from engine.sampling import (
    WORD_COMPLETION_BOOST,
    Row,
    SamplingParams,
    _choose,
    _plan_word_boost,
    _theme_word_boost,
)

VOCAB = 20
END = 19  # the line-end mark
WORD = (3, 4)  # the line's plan word


class FreeLine:
    """Five free slots and a mark, like a 五言 line with no tones; `refused` is never allowed."""

    length = 6

    def __init__(self, refused: int | None = None):
        self.refused = refused

    def forced(self, generated: list[int]) -> int | None:
        return END if len(generated) == 5 else None

    def allowed(self, generated: list[int]) -> torch.Tensor:
        allowed = torch.ones(VOCAB, dtype=torch.bool)
        allowed[END] = False
        if self.refused is not None:
            allowed[self.refused] = False
        return allowed


def favoured(tokens: list[int], refused: int | None = None, starts=frozenset({0, 2, 3})) -> dict[int, float]:
    row = Row(
        [],
        FreeLine(refused),
        SamplingParams(plan_boost=1.5),
        0,
        plan=(WORD,),
        line_ends=frozenset({END}),
        word_starts=starts,
        tokens=list(tokens),
    )
    return dict(_plan_word_boost(row, 1.5))


def test_a_plan_word_is_begun_where_the_rhythm_allows_and_then_completed():
    assert favoured([]) == {3: 1.5}  # first slot: begin the word
    assert favoured([7]) == {}  # second slot: 五言 reads 2+3, no word begins here
    assert favoured([7, 8]) == {3: 1.5}
    assert favoured([7, 3]) == {}  # begun where no word begins: not completed either
    assert favoured([3]) == {4: WORD_COMPLETION_BOOST}  # its first part written: complete it
    assert favoured([7, 8, 3]) == {4: WORD_COMPLETION_BOOST}
    assert favoured([3, 4, 9]) == {}  # the line holds it
    assert favoured([7, 8, 9, 10], starts=frozenset()) == {}  # the last slot: no room for the second one
    assert favoured([], refused=4) == {}  # the second character cannot follow: do not begin it
    assert favoured([7], starts=frozenset()) == {3: 1.5}  # no rhythm given: anywhere
    assert favoured([4, 8]) == {3: 1.5}  # a plan word is its line's to write, whatever the line holds


def test_a_theme_word_is_kept_off_a_line_that_holds_one_of_its_characters():
    def theme_favoured(tokens: list[int]) -> dict[int, float]:
        row = Row([], FreeLine(), SamplingParams(theme_boost=3.0), 0, theme_word=WORD, line_ends=frozenset({END}))
        row.tokens = list(tokens)
        return dict(_theme_word_boost(row, 3.0))

    assert theme_favoured([]) == {3: 3.0}
    assert theme_favoured([4, 8]) == {3: -3.0}  # 湖上 before 西湖: keep it off
    assert theme_favoured([3, 8]) == {3: -3.0}
    assert theme_favoured([8, 4, END]) == {3: 3.0}  # a line before held it: this one is free
    assert theme_favoured([4, 8, 3]) == {4: WORD_COMPLETION_BOOST}  # begun all the same: completed as any word
    closing = Row([], FreeLine(), SamplingParams(), 0, theme_word=WORD, theme_word_until=1, line_ends=frozenset({END}))
    assert dict(_theme_word_boost(closing, 3.0)) == {3: 3.0}
    closing.tokens = [8, 9, 10, 11, 12, END]  # the closing line: not pressed in there (留与诗人咏史公)
    assert _theme_word_boost(closing, 3.0) == []


def test_the_plan_word_of_the_line_being_written():
    row = Row(
        [],
        FreeLine(),
        SamplingParams(plan_boost=1.5),
        0,
        plan=((1, 2), WORD),
        line_ends=frozenset({END}),
        tokens=[1, 2, 5, 6, 7, END],
    )
    assert _plan_word_boost(row, 1.5) == [(3, 1.5)]
    row.tokens += [3]  # the line index is kept up to date as tokens arrive
    assert _plan_word_boost(row, 1.5) == [(4, WORD_COMPLETION_BOOST)]


def test_each_earlier_occurrence_of_a_character_costs():
    logits = torch.full((VOCAB,), -10.0)
    logits[5], logits[6] = 2.0, 0.0  # 5 is the likelier, and already written twice

    def chosen(cost: float) -> int:
        params = SamplingParams(temperature=0.05, repetition_penalty=1.0, repeat_cost=cost)
        row = Row([], FreeLine(), params, 0, tokens=[5, 8, 5])
        return _choose(logits[None], [row], [torch.Generator().manual_seed(0)])[0]

    assert chosen(0.0) == 5
    assert chosen(0.9) == 5  # 2 - 2 × 0.9 = 0.2 > 0
    assert chosen(1.1) == 6
    with pytest.raises(ValueError):
        SamplingParams(repeat_cost=-1.0)


def test_grammatical_characters_cost_only_in_rows_that_name_them():
    logits = torch.full((VOCAB,), -10.0)
    logits[5], logits[6] = 1.0, 0.5  # 5 (a particle, say) is the likelier

    def chosen(cost: float, grammatical: tuple[int, ...] = (5,)) -> int:
        params = SamplingParams(temperature=0.05, repetition_penalty=1.0, function_cost=cost)
        row = Row([], FreeLine(), params, 0, grammatical=grammatical)
        return _choose(logits[None], [row], [torch.Generator().manual_seed(0)])[0]

    assert chosen(0.0) == 5
    assert chosen(0.4) == 5  # 1.0 - 0.4 > 0.5
    assert chosen(0.6) == 6
    assert chosen(0.6, grammatical=()) == 5  # a planned poem's rows name none
    with pytest.raises(ValueError):
        SamplingParams(function_cost=11.0)


def test_rows_chosen_together_choose_as_each_would_alone():
    """The batch shares its tensor operations, never its rows' settings: rows of several requests
    (other top_k, temperature, penalties, words to favour) choose as each would in a batch of one."""
    logits = torch.randn(4, VOCAB, generator=torch.Generator().manual_seed(7)) * 3
    rows = [
        Row([], FreeLine(), SamplingParams(top_k=3, top_p=0.5, temperature=2.0), 11, tokens=[5, 6]),
        Row([], FreeLine(refused=2), SamplingParams(top_k=40, top_p=0.5, repeat_cost=2.0), 12, tokens=[2, 2]),
        Row(
            [],
            FreeLine(),
            SamplingParams(repetition_penalty=2.0, plan_boost=3.0),
            13,
            plan=(WORD,),
            line_ends=frozenset({END}),
        ),
        Row([], FreeLine(), SamplingParams(temperature=1.5, function_cost=4.0), 14, grammatical=(1, 1, 3), avoid=(0,)),
    ]
    for seed in range(40):
        alone = [
            _choose(logits[r][None], [row], [torch.Generator().manual_seed(seed)])[0] for r, row in enumerate(rows)
        ]
        generators = [torch.Generator().manual_seed(seed) for _ in rows]
        assert _choose(logits.clone(), rows, generators) == alone
    # a tie for the likeliest, top_k 1 beside top_k 40: the row takes the token it would take alone
    tied = torch.zeros(2, VOCAB)
    tied[:, 10] = tied[:, 15] = 5.0
    pair = [Row([], FreeLine(), SamplingParams(top_k=top_k), 0) for top_k in (1, 40)]
    alone = _choose(tied[:1], pair[:1], [torch.Generator().manual_seed(0)])
    assert _choose(tied, pair, [torch.Generator().manual_seed(0) for _ in pair])[:1] == alone
    # and the settings tell: top_k 3 keeps the row among its three likeliest, whatever the draw
    likeliest = set(logits[0].topk(3).indices.tolist())
    assert all(
        _choose(logits[0][None], [rows[0]], [torch.Generator().manual_seed(seed)])[0] in likeliest for seed in range(40)
    )


@pytest.fixture(scope="module")
def poet():
    poet = Poet(SHIPPED_MODEL, "cpu-int8", get_settings().corpus_lines)
    yield poet
    asyncio.run(poet.close())


def test_real_poems_keep_whole_plan_words_and_seldom_repeat_a_character(poet):
    named = (("秋", "落叶"), ("山", "白云"), ("西湖", "画船"), ("送别", "长亭"), ("梅", "暗香"), ("边塞", "烽火"))
    named += (("月", "清光"), ("江", "孤帆"))  # a plan line by line comes with keywords of the user's
    poems = [
        asyncio.run(poet.compose(theme, form="qijue", seed=seed, n_candidates=2, keywords=(word,)))
        for seed, (theme, word) in enumerate(named)
    ]
    lines = [(line, word) for poem in poems for line, word in zip(poem.lines, poem.params["plan"]["keywords"])]
    assert sum(word in line for line, word in lines) >= 0.7 * len(lines), lines
    # repeats beyond the plan's own words (秋声 in a poem on 秋): real 七言 repeat about 3% of their characters
    repeats = sum(
        max(0, count - 1)
        for poem in poems
        for char, count in Counter(poem.text).items()
        if char.isalpha() and not any(char in word for word in poem.params["plan"]["keywords"])
    )
    assert repeats <= 0.04 * 8 * 28, [poem.text for poem in poems]


def test_a_theme_word_is_not_written_beside_its_own_character(poet):
    """Favoured until written, 西湖 came after 湖上 (湖上西湖水拍天), 长城 after 城上, 中秋 after 秋色: in 15 of 160
    dev poems on themes of two characters; real poems so titled, 15 in 6,191. Seeds 1 and 4 are where the sampler
    before the change echoed, in 6 of these 12 poems (湖上见西湖, 城下长城路, 秋色里中秋, …)."""
    poems = [
        asyncio.run(poet.compose(theme, form=form, seed=seed, n_candidates=2))
        for theme in ("西湖", "长城", "中秋")
        for form in ("wujue", "qijue")
        for seed in (1, 4)
    ]
    echoes = [
        line
        for poem in poems
        for line in poem.lines
        if poem.params["theme"] in line and set(poem.params["theme"]) & set(line.split(poem.params["theme"])[0])
    ]
    assert not echoes, echoes
    # still on its theme: on these seeds, where the model reaches for a theme character early, 8 of the 12 hold the
    # word (over 160 dev poems 155, before the change 156); a rule that kept it off everywhere would leave few
    assert sum(poem.params["theme"] in poem.text for poem in poems) >= len(poems) // 2
