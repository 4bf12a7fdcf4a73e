"""The plan of a poem: corpus words, each line's salient word, a theme's topic words, the planner."""

import random

import pytest

from engine.lexicon import Lexicon, build_lexicon, lexicon_half, title_terms
from engine.planning import MAX_PLAN_IDF, SEASONS, Plan, Planner, classes_of


def _poem(poem_id: str, title: str, lines: list[str]) -> dict:
    return {"id": poem_id, "title": title, "lines": lines, "form": "wujue", "split": "train"}


def _even_ids(count: int, prefix: str) -> list[str]:
    """Poem ids in the half that teaches topic words."""
    ids, n = [], 0
    while len(ids) < count:
        if lexicon_half(f"{prefix}{n}") == 0:
            ids.append(f"{prefix}{n}")
        n += 1
    return ids


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    """A made-up corpus: lake poems use 画舫 and 湖光, frontier poems 烽火 and 胡马, and
    everything else shares the common stock of 白云 and 青山."""
    rng = random.Random(0)
    filler = "白云青山流水明月清风长松"
    records = []

    def line(word: str) -> str:
        return word + "".join(rng.choice(filler) for _ in range(3))

    for poem_id in _even_ids(60, "lake"):
        records.append(_poem(poem_id, "游西湖", [line("画舫"), line("湖光"), line("春水"), line("归思")]))
    for poem_id in _even_ids(60, "war"):
        records.append(_poem(poem_id, "从军行", [line("烽火"), line("胡马"), line("秋霜"), line("乡愁")]))
    for n in range(300):
        records.append(_poem(f"other{n}", "杂诗", [line("白云"), line("青山"), line("流水"), line("长松")]))
    return build_lexicon(records, progress=False)


def test_words_are_frequent_associated_pairs(lexicon):
    assert {"画舫", "烽火", "胡马"} <= set(lexicon.idf)
    assert "舫湖" not in lexicon.idf  # two words side by side are not a word


def test_line_keywords_are_one_salient_word_per_line_found_in_it(lexicon):
    lines = ["画舫白云流", "湖光明月清", "白云青山水", "清风明月松"]
    keywords = lexicon.line_keywords(lines)
    assert len(keywords) == 4 and all(k in line for k, line in zip(keywords, lines))
    assert keywords[:2] == ["画舫", "湖光"]  # the rare word, not the common stock
    assert len(set(keywords)) == 4  # no keyword twice


def test_topic_words_are_what_titled_poems_use_more(lexicon):
    lake = [w for w, _ in lexicon.topic_words("西湖")]
    war = [w for w, _ in lexicon.topic_words("从军")]
    assert {"画舫", "湖光"} <= set(lake[:6]) and not {"烽火", "胡马"} & set(lake)
    assert {"烽火", "胡马"} <= set(war[:6]) and not {"画舫"} & set(war)
    assert "白云" not in lake  # used everywhere: tells nothing
    # a theme no title holds borrows from its parts
    assert {"画舫", "湖光"} <= {w for w, _ in lexicon.topic_words("西湖夜")}


def test_title_terms_stay_inside_runs_of_han():
    assert title_terms("游西湖 二首") == {"游", "西", "湖", "游西", "西湖", "二", "首", "二首"}


def test_lexicon_survives_save_and_load(lexicon, tmp_path):
    lexicon.save(tmp_path / "lexicon.json.gz")
    loaded = Lexicon.load(tmp_path / "lexicon.json.gz")
    assert [w for w, _ in loaded.topic_words("西湖")] == [w for w, _ in lexicon.topic_words("西湖")]
    assert loaded.line_keywords(["画舫白云流"]) == ["画舫"]
    assert Lexicon.load(tmp_path / "lexicon.json.gz") is loaded  # read once while the file is unchanged
    _handmade().save(tmp_path / "lexicon.json.gz")
    assert Lexicon.load(tmp_path / "lexicon.json.gz").topic_words("西湖") == _handmade().topic_words("西湖")


def _handmade() -> Lexicon:
    words = [
        ("画舫", 1.0),
        ("湖光", 0.9),
        ("荷花", 0.8),
        ("秋月", 0.7),
        ("春风", 0.7),
        ("夜雨", 0.6),
        ("晓烟", 0.6),
        ("归思", 0.5),
        ("柳岸", 0.5),
        ("孤山", 0.4),
        ("渔舟", 0.4),
        ("乡愁", 0.3),
    ]
    return Lexicon(
        idf={w: 3.0 for w, _ in words},
        topics={"西湖": words, "秋": [("秋月", 1.0)] * 8},
        topic_poems={"西湖": 500, "秋": 500},
    )


@pytest.mark.parametrize("seed", range(20))
def test_a_plan_keeps_one_season_and_ends_on_a_feeling(seed):
    plan = Planner(_handmade()).plan("西湖", 4, random.Random(seed))
    assert len(plan.keywords) == 4 and len(set("".join(plan.keywords))) == len("".join(plan.keywords))
    for keyword in plan.keywords:
        assert classes_of(keyword, SEASONS) <= {plan.season}, (keyword, plan)
    assert plan.keywords[-1] in ("归思", "乡愁")  # scene first, the feeling last
    assert plan.season and plan.season not in plan.avoided_seasons and len(plan.avoided_seasons) == 3


def test_a_plan_says_whose_words_it_borrowed():
    planner = Planner(_handmade())
    assert planner.plan("西湖", 4, random.Random(0)).source == "西湖"
    # no poem is titled 西湖船: its words are 西湖's, and the plan says so (lianju poem shows it)
    assert planner.plan("西湖船", 4, random.Random(0)).source == "西湖"


def test_a_theme_that_names_its_season_gets_it():
    for seed in range(10):
        assert Planner(_handmade()).plan("西湖秋", 4, random.Random(seed)).season == "秋"


def test_user_keywords_come_first_and_unknown_characters_stay_out():
    planner = Planner(_handmade(), known=set("画舫湖光荷花秋月春风夜雨晓烟归思柳岸孤山乡愁钓"))
    for seed in range(10):
        plan = planner.plan("西湖", 8, random.Random(seed), user_keywords=("钓",))
        assert plan.keywords[0] == "钓" and len(plan.keywords) == 8
        assert "渔舟" not in plan.keywords  # 渔 is not a character the model knows


def test_a_theme_with_few_words_borrows_its_seasons_words():
    lexicon = Lexicon(
        idf={},
        topics={
            "旅": [("把酒", 1.0), ("诗书", 0.9), ("秋雨", 0.6), ("归去", 0.5), ("卜", 0.4)],
            "秋": [("秋风", 1.0), ("落叶", 0.9), ("白露", 0.8), ("梧桐", 0.7), ("菊花", 0.6)],
        },
        topic_poems={"旅": 500, "秋": 500},
    )
    for seed in range(10):
        plan = Planner(lexicon).plan("旅", 8, random.Random(seed))
        assert plan.season == "秋" and len(plan.keywords) == 8
        assert len(set(plan.keywords) & {"秋风", "落叶", "白露", "梧桐", "菊花"}) >= 3, plan
        assert "卜" not in plan.keywords  # a single character only when words run out


def test_rare_topic_words_stay_out_of_plans_but_a_users_keyword_stays_in():
    lexicon = _handmade()
    lexicon.topics["西湖"].insert(0, ("六桥", 2.0))  # the most telling word, and a rare one
    lexicon.idf["六桥"] = MAX_PLAN_IDF + 1.0
    planner = Planner(lexicon)
    for seed in range(10):
        assert "六桥" not in planner.plan("西湖", 8, random.Random(seed)).keywords
    lexicon.idf["六桥"] = MAX_PLAN_IDF
    assert any("六桥" in planner.plan("西湖", 8, random.Random(seed)).keywords for seed in range(10))
    lexicon.idf["六桥"] = MAX_PLAN_IDF + 1.0
    assert planner.plan("西湖", 4, random.Random(0), user_keywords=("六桥",)).keywords[0] == "六桥"


def test_a_words_season_character_that_names_no_season_marks_nothing():
    """寒食 is a spring festival: its swing (秋千) must not set the poem in autumn."""
    words = [("秋千", 1.0), ("清明", 0.9), ("禁火", 0.8), ("杏花", 0.5), ("梨花", 0.5), ("佳节", 0.4), ("家家", 0.3)]
    lexicon = Lexicon(idf={w: 3.0 for w, _ in words}, topics={"寒食": words}, topic_poems={"寒食": 500})
    plans = [Planner(lexicon).plan("寒食", 4, random.Random(seed)) for seed in range(20)]
    assert {plan.season for plan in plans} == {"春"}
    with_swing = [plan for plan in plans if "秋千" in plan.keywords]
    assert with_swing, "the swing is the festival's most telling word"
    # the poem may write its plan word, though 秋 names another season
    assert all(plan.avoided_seasons == "夏冬" for plan in with_swing)
    assert all(plan.avoided_seasons == "夏秋冬" for plan in plans if plan not in with_swing)


def test_a_poem_is_charged_for_another_seasons_imagery_but_not_for_its_plan_or_theme():
    spring = Plan(("东风", "桃花", "秋千", "归思"), "春", None, "春")
    # 霜 and 雪 are winter's and autumn's, 菊 autumn's; 秋 inside 秋千 and 桃 of the plan are not charged
    assert spring.off_season(["霜月冰轮照影长", "秋千雪里荡桃花", "菊花开"], "月") == "霜雪菊"
    assert spring.off_season(["东风吹落满园花"], "月") == ""
    assert Plan(("东风",), "春", None, "雁").off_season(["雁字横秋"], "雁") == "秋"  # the theme's character is allowed
    assert Plan((), None, None, "酒").off_season(["霜雪"], "酒") == ""  # no season, nothing to clash with
    # a plan word is allowed where it stands whole, not its characters anywhere: 秋千 does not let 中秋 in
    swing = Plan(("细雨", "秋千", "杨柳", "风光"), "春", None, "清明")
    assert swing.off_season(["清明时节过中秋", "天外秋千万里愁"], "清明") == "秋"
    assert swing.off_season(["天外秋千万里愁"], "清明") == ""


def test_a_poem_is_charged_for_a_time_clashing_with_the_one_its_theme_names():
    night = Plan(("孤舟", "渔火"), "秋", "夜", "夜雨")
    # dawn in a night's poem, each mark once; dusk before the night is not charged
    assert night.off_time(["晓钟残月照孤舟", "暮色苍茫晓更寒", "曙光"], "夜雨") == "晓曙"
    assert night.off_time(["夕阳西下泊孤舟", "夜深渔火照江流"], "夜雨") == ""
    dawn = Plan(("鸡声", "残月"), None, "晨", "晓行")
    assert dawn.off_time(["夜宿荒村晚更寒", "岁晚"], "晓行") == "夜晚"  # 晚 inside 岁晚 is the year's end
    # the plan's own word is allowed; a theme naming no time, or two, charges nothing
    assert Plan(("晓钟",), None, "夜", "春夜").off_time(["晓钟敲彻"], "春夜") == ""
    assert Plan((), None, "夜", "月").off_time(["晓月", "夜"], "月") == ""
    assert Plan((), None, None, "晓夜").off_time(["暮"], "晓夜") == ""


def test_a_lushi_written_to_its_setting_is_ranked_by_its_lines_on_the_theme():
    from engine.poet import on_topic  # loads torch: imported here, not for the whole module

    setting = Plan((), "秋", "夜", "月", ("清光", "冰轮"))
    assert on_topic(["清光照水寒", "冰轮上九霄", "江上月明时", "无人问酒家"], "月", setting) == 0.75
    assert on_topic(["无人问酒家", "风吹落叶斜"], "月", setting) == 0.0
    # a plan of keywords is ranked by plan_followed instead; no plan, nothing to hold
    assert on_topic(["清光照水寒"], "月", Plan(("清光",), "秋", None, "月")) == 0.0
    assert on_topic(["清光照水寒"], "月", None) == 0.0
