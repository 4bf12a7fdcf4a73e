"""The yardsticks of meaning (engine/yardsticks.py) on the fixture corpus and on hand-made records."""

import asyncio
import json
import random
import shutil
from itertools import count

import numpy as np
import pytest
from typer.testing import CliRunner

from bot.cli import _write_meaning_poems, app, meaning_requests
from bot.config import SHIPPED_MODEL, get_settings
from engine import yardsticks
from engine.yardsticks import Judged, Stats, compute_stats, frankenpoems, judge, read_records, titled

JINGYESI = ("床前看月光", "疑是地上霜", "举头望明月", "低头思故乡")


def flat(output: str) -> str:
    """Rich wraps long messages at the terminal's width."""
    return " ".join(output.split())


@pytest.fixture(scope="module")
def fixture_stats(built_corpus) -> Stats:
    return compute_stats(read_records(built_corpus), progress=False)


@pytest.fixture
def corpus_copy(built_corpus, tmp_path):
    """A corpus of our own: the statistics cache is written inside it."""
    return shutil.copytree(built_corpus, tmp_path / "corpus")


def _records(half: bool, titles_and_poems: list[tuple[str, tuple[str, ...]]]) -> list[dict]:
    """Train 五绝 records whose ids fall in the profile half (half=True) or the lexicon's half."""
    ids = (f"poem-{n}" for n in count() if yardsticks.profile_half(f"poem-{n}") == half)
    return [
        {"id": next(ids), "split": "train", "form": "wujue", "title": title, "lines": list(lines)}
        for title, lines in titles_and_poems
    ]


MOON = [
    ("月夜", ("明月照高楼", "清光满玉阶", "霜华凝夜色", "桂影落空庭")),
    ("望月", ("皓月当空照", "清辉映玉阶", "桂影满庭前", "霜色照人寒")),
]
FRONTIER = [
    ("边塞", ("黄沙连大漠", "胡马嘶秋风", "戍楼烽火起", "将军夜出关")),
    ("边塞曲", ("大漠孤城远", "胡笳戍卒悲", "烽火照关山", "铁马踏黄沙")),
]
PLUM = [
    ("咏梅", ("寒梅开雪里", "暗香浮水边", "疏影横斜处", "一枝春信来")),
    ("早梅", ("数点寒香动", "疏枝映水边", "冰姿开雪里", "暗香满人间")),
]


@pytest.fixture(scope="module")
def theme_stats() -> Stats:
    return compute_stats(_records(True, MOON + FRONTIER + PLUM), themes=("月", "边塞", "梅"), progress=False)


def test_a_moon_poem_ranks_moon_above_unrelated_themes_without_its_characters(theme_stats):
    poem = ("明月照空庭", "清光霜色寒", "桂影满玉阶", "夜深人未眠")
    similarities = theme_stats.theme_similarities(poem, "月", ("月", "边塞", "梅"))
    assert similarities["月"] > similarities["边塞"] and similarities["月"] > similarities["梅"]
    assert theme_stats.theme_rank(poem, "月", ("月", "边塞", "梅")) == (1, 3)


def test_writing_the_theme_character_does_not_make_a_poem_about_it(theme_stats):
    frontier_with_moon = ("月照黄沙远", "胡马嘶大漠", "烽火戍楼高", "将军夜出关")
    similarities = theme_stats.theme_similarities(frontier_with_moon, "月", ("月", "边塞", "梅"))
    assert similarities["边塞"] > similarities["月"]
    assert theme_stats.theme_rank(frontier_with_moon, "月", ("月", "边塞", "梅"))[0] > 1
    assert theme_stats.theme_similarities(("月月月月月",), "月", ("月",))["月"] == 0.0


def test_profiles_come_only_from_the_profile_half():
    lexicon_half = _records(False, MOON)
    stats = compute_stats(_records(True, FRONTIER) + lexicon_half, themes=("月", "边塞"), progress=False)
    assert stats.profile_poems == [0, 2] and not stats.profiles[0].any()


def test_themes_inside_one_another_and_named_in_the_title_are_not_rivals(theme_stats):
    stats = compute_stats(_records(True, MOON + FRONTIER), themes=("春", "春雨", "月", "送别", "秋"), progress=False)
    assert stats.theme_rank(JINGYESI, "春", ("春", "春雨", "月"))[1] == 2
    assert stats.theme_rank(JINGYESI, "秋", ("秋", "送别", "月"), title="秋夜送别")[1] == 2
    assert stats.theme_rank(JINGYESI, "秋", ("秋", "送别", "月"))[1] == 3


def test_real_lines_cohere_more_than_the_same_lines_shuffled_across_poems(fixture_stats, built_corpus):
    real = [
        Judged(tuple(r["lines"]), r["form"], None) for r in read_records(built_corpus) if r["form"] in yardsticks.FORMS
    ]
    shuffled = frankenpoems(real, random.Random(0))
    assert len(shuffled) > 20
    mean = lambda poems: sum(fixture_stats.coherence(p.lines) for p in poems) / len(poems)  # noqa: E731
    assert mean(real) > mean(shuffled) + 0.2
    assert fixture_stats.coherence(("月",)) is None


def test_real_poems_lose_coherence_when_their_lines_are_swapped_and_frankenpoems_do_not(fixture_stats, built_corpus):
    real = [
        Judged(tuple(r["lines"]), r["form"], None) for r in read_records(built_corpus) if r["form"] in yardsticks.FORMS
    ]
    shuffled = frankenpoems(real, random.Random(0))
    real_lift = yardsticks.coherence_lift(fixture_stats, real, random.Random(1))
    assert real_lift > 0.2 > yardsticks.coherence_lift(fixture_stats, shuffled, random.Random(1))


def test_frankenpoems_take_each_line_from_another_poem_in_its_place():
    poems = [Judged(tuple(f"{n}{i}" for i in range(4)), "wujue", None) for n in "甲乙丙丁戊"]
    for made in frankenpoems(poems, random.Random(1)):
        assert [line[1] for line in made.lines] == ["0", "1", "2", "3"]
        assert len({line[0] for line in made.lines}) == 4


def test_a_non_word_pair_is_unattested_and_common_pairs_are_cliches(fixture_stats):
    assert fixture_stats.pair_shares(("徘娟",)) == (0.0, 0.0)
    attested, cliche = fixture_stats.pair_shares(("明月", "何处"))
    assert attested == 1.0 and cliche == 1.0
    assert fixture_stats.pair_shares(("月",)) is None


def test_real_poems_judged_as_ours_come_all_the_way(fixture_stats, built_corpus):
    real = [
        Judged(tuple(r["lines"]), r["form"], None, r["title"], r["id"])
        for r in read_records(built_corpus)
        if r["form"] in yardsticks.FORMS
    ]
    ours = titled(real, ["春"])
    report = judge(fixture_stats, ours, real)
    assert report.compared_themes == ["春"] and report.real.poems == len(ours) == 3
    assert report.theme_share == pytest.approx(1.0) and report.ours.coherence == pytest.approx(report.real.coherence)
    assert report.floor.attested is None and report.real.attested is not None


def test_statistics_are_cached_and_rebuilt_with_the_corpus(corpus_copy):
    stats = yardsticks.load_stats(corpus_copy, progress=False)
    path = corpus_copy / "yardsticks" / "stats.npz"
    cached = Stats.load(path, yardsticks.cache_key(corpus_copy))
    assert cached is not None and cached.vocab == stats.vocab and cached.cliches == stats.cliches
    assert cached.coherence(JINGYESI) == pytest.approx(stats.coherence(JINGYESI))
    summary = json.loads((corpus_copy / "summary.json").read_text())
    (corpus_copy / "summary.json").write_text(json.dumps({**summary, "records": summary["records"] + 1}))
    assert Stats.load(path, yardsticks.cache_key(corpus_copy)) is None


def test_two_builds_of_the_cache_at_once_both_succeed(fixture_stats, tmp_path, monkeypatch):
    """Two evals on a fresh corpus both write the cache: the second's write, made while the first is
    writing, must not take the first's partial file away."""
    path = tmp_path / "yardsticks" / "stats.npz"
    write = np.savez_compressed
    interrupted = []

    def interleaved(file, **arrays):
        write(file, **arrays)
        if not interrupted:  # the first write: the other process saves, start to finish, before it is moved in place
            interrupted.append(file)
            fixture_stats.save(path, "other")

    monkeypatch.setattr(np, "savez_compressed", interleaved)
    fixture_stats.save(path, "first")
    assert Stats.load(path, "first") is not None
    assert sorted(p.name for p in path.parent.iterdir()) == ["stats.npz"]


def test_the_theme_lists_are_many_distinct_and_disjoint():
    assert len(yardsticks.CANDIDATE_THEMES) == len(set(yardsticks.CANDIDATE_THEMES)) >= 40
    assert not set(yardsticks.DEV_THEMES) & set(yardsticks.ACCEPTANCE_THEMES)


def test_cli_judges_poems_from_a_file(corpus_copy, tmp_path):
    poems = tmp_path / "poems.jsonl"
    poems.write_text(
        "\n".join(
            json.dumps(p, ensure_ascii=False)
            for p in (
                {"lines": list(JINGYESI), "form": "wujue", "theme": "月"},
                {
                    "lines": ["春眠不觉晓", "处处闻啼鸟", "夜来风雨声", "花落知多少"],
                    "form": "wujue",
                    "params": {"theme": "春"},
                },
            )
        )
        + "\n"
    )
    out = tmp_path / "meaning.json"
    result = CliRunner().invoke(
        app, ["eval", "--meaning", "--poems", str(poems), "--corpus", str(corpus_copy), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "ours" in result.output and "held-out real" in result.output
    report = json.loads(out.read_text())
    assert report["themes"] == ["月", "春"] and report["ours"]["poems"] == 2
    assert 0 <= report["ours"]["percentile"] <= 1 and report["ours"]["coherence"] is not None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"lines": 3, "form": "wujue", "theme": "月"}', '"lines" must be a list'),
        ('{"lines": ["明月"], "form": "wujue"}', 'needs "form" and "theme"'),
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_cli_refuses_bad_poems_files_without_a_traceback(corpus_copy, tmp_path, content, message):
    poems = tmp_path / "poems.jsonl"
    poems.write_text(content + "\n")
    result = CliRunner().invoke(app, ["eval", "--meaning", "--poems", str(poems), "--corpus", str(corpus_copy)])
    assert result.exit_code == 2 and message in flat(result.output) and "Traceback" not in result.output


def test_cli_meaning_says_what_to_do_without_a_corpus_or_with_unknown_themes(corpus_copy, tmp_path):
    result = CliRunner().invoke(app, ["eval", "--meaning", "--corpus", str(tmp_path / "none")])
    assert result.exit_code == 2 and "lianju corpus build" in flat(result.output)
    result = CliRunner().invoke(app, ["eval", "--meaning", "--themes", "all", "--corpus", str(corpus_copy)])
    assert result.exit_code == 2 and "dev, acceptance" in flat(result.output)


def test_every_poem_eval_writes_has_its_own_seed():
    requests = meaning_requests(("月", "西湖"), yardsticks.FORMS, 2, 1128)
    assert len(requests) == 2 * len(yardsticks.FORMS) * 2
    assert len({seed for _, _, seed in requests}) == len(requests)  # one seed per form gave one plan to all four
    assert {(theme, form) for theme, form, _ in requests} == {(t, f) for t in ("月", "西湖") for f in yardsticks.FORMS}


def test_eval_writes_each_poem_as_the_bot_answers_one_user():
    """Requests in flight together were batched with each other and never rewritten from a line readers would
    mark (engine.poet rewrites only while nothing else waits): eval's poems must be the bot's answers to one
    user, each request alone."""
    from engine.poet import Poet

    settings = get_settings()
    themes = ("月", "西湖")
    written = _write_meaning_poems(SHIPPED_MODEL, themes, 1, 1128)

    async def one_by_one() -> list[tuple[str, ...]]:
        poet = Poet(SHIPPED_MODEL, settings.backend, settings.corpus_lines)
        try:
            requests = meaning_requests(themes, yardsticks.FORMS, 1, 1128)
            return [(await poet.compose(theme, form=form, seed=seed)).lines for theme, form, seed in requests]
        finally:
            await poet.close()

    assert [tuple(poem["lines"]) for poem in written] == [tuple(lines) for lines in asyncio.run(one_by_one())]
