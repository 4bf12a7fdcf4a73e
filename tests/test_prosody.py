import pytest

from engine.forms import JINTI_FORMS, parse_form
from engine.prosody import PING, ZE, char_tone, check, check_couplet, level_groups, tone_patterns

CHUNWANG = "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。"
DENGGAO = (
    "風急天高猿嘯哀，渚清沙白鳥飛回。無邊落木蕭蕭下，不盡長江滾滾來。"
    "萬里悲秋常作客，百年多病獨登臺。艱難苦恨繁霜鬢，潦倒新停濁酒杯。"
)
JINGYESI = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"


def codes(report, severity="error"):
    return [r.code for r in report.reasons if r.severity == severity]


@pytest.mark.parametrize("poem, form, group", [(CHUNWANG, "wulv", "侵"), (DENGGAO, "qilv", "灰")])
def test_masterpieces_scan_perfectly(poem, form, group):
    report = check(poem)
    assert report.form == form
    assert report.ok and report.tone_ok_lenient
    assert report.tone_score == 1.0
    assert report.rhyme_group.endswith(group)
    assert codes(report) == []


def test_denggao_in_traditional_equals_simplified():
    from engine.text import to_simplified

    assert check(DENGGAO).to_dict() == check(to_simplified(DENGGAO)).to_dict()


def test_jingyesi_rhymes_but_breaks_tones_like_a_guju():
    report = check(JINGYESI)
    assert report.format_ok and report.rhyme_ok
    assert report.rhyme_group == "下平声七阳"
    assert not report.tone_ok and not report.tone_ok_lenient
    assert report.tone_score < 1.0
    assert "guju" in codes(report, "note")
    assert {"tone", "sticking"} <= set(codes(report))


def test_lushi_with_fourth_line_ending_oblique_is_caught():
    broken = CHUNWANG.replace("恨别鸟惊心", "恨别鸟惊树")
    report = check(broken)
    assert report.format_ok
    assert not report.rhyme_ok and report.rhyme_breaks == [4]
    assert not report.tone_ok
    rhyme_reason = next(r for r in report.reasons if r.code == "rhyme")
    assert rhyme_reason.line == 4 and "树" in rhyme_reason.zh and "树" in rhyme_reason.en


@pytest.mark.parametrize(
    "poem, form, fragment",
    [
        ("国破山河在，城春草木深。感时花溅泪", None, "3 lines"),
        ("国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。", "qijue", "seven-character quatrain"),
        ("国破山河在兮，城春草木深。感时花溅泪，恨别鸟惊心。", None, "6, 5, 5, 5"),
    ],
)
def test_wrong_shape_is_rejected_with_a_reason(poem, form, fragment):
    report = check(poem, form)
    assert not report.format_ok and not report.ok
    assert codes(report) == ["shape"]
    assert fragment in report.reasons[0].en


@pytest.mark.parametrize(
    "text, code",
    [
        ("", "empty"),
        ("   \n\u200b ", "empty"),
        ("，。！", "empty"),
        ("月" * 10_000, "too_long"),
        ("床前明月光🌙，疑是地上霜。举头望明月，低头思故乡。", "non_han"),
        ("Moonlight before my bed", "non_han"),
    ],
)
def test_malformed_input_gets_a_reason_not_a_traceback(text, code):
    report = check(text)
    assert not report.format_ok
    assert codes(report) == [code]
    assert report.reasons[0].zh and report.reasons[0].en
    assert report.to_dict()["ok"] is False


def test_rhyme_groups_keep_the_books_names_in_either_script():
    from engine.prosody import char_tone
    from engine.text import to_taiwan, to_traditional

    labels = {char: char_tone(char).groups[0].label for char in "肴咸个小东"}
    assert labels["小"] == "上声十七筱" and labels["东"] == "上平声一东"
    traditional = {char: to_traditional(label) for char, label in labels.items()}
    assert traditional == {
        "肴": "下平聲三肴",  # not 餚, dishes
        "咸": "下平聲十五咸",  # not 鹹, salty
        "个": "去聲二十一箇",
        "小": "上聲十七篠",
        "东": "上平聲一東",
    }
    assert to_taiwan(f"韵部定为{labels['肴']}。") == "韻部定為下平聲三肴。"
    # and the bot's words as Discord's zh-TW says them
    assert to_taiwan("需要“管理服务器”权限；注册表；斜杠命令") == "需要“管理伺服器”權限；註冊表；斜線指令"


def test_a_full_width_space_separates_lines():
    assert check("白日依山尽\u3000黄河入海流\u3000欲穷千里目\u3000更上一层楼").format_ok


def test_zero_width_and_control_characters_are_ignored():
    dirty = (
        "\ufeff国破\u200b山河在\x00\x07，城春\u200d草木深。感时花溅泪，恨别鸟惊心。"
        "烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪\u2060。"
    )
    assert check(dirty).to_dict() == check(CHUNWANG).to_dict()


def test_unknown_form_name_is_a_reason():
    report = check(CHUNWANG, "sonnet")
    assert codes(report) == ["unknown_form"]
    assert "wujue" in report.reasons[0].en


def test_form_names_in_chinese():
    assert parse_form("七律").name == "qilv"
    assert parse_form("五絕").name == "wujue"
    assert parse_form("七言絕句").name == "qijue" and parse_form(" 五言律詩 ").name == "wulv"  # 繁體 full names too
    with pytest.raises(ValueError):
        parse_form("十四行诗")


def test_rushing_tones_come_from_pingshui_not_mandarin():
    # 白 国 月 are 入声: 仄 in the rhyme book though modern Mandarin reads 白 国 as level tones.
    for char in "白国月竹":
        assert char_tone(char).tones == {ZE}, char
        assert char_tone(char).source == "pingshui"
    assert char_tone("看").tones == {PING, ZE}  # 看 has both readings
    assert char_tone("風").tones == char_tone("风").tones == {PING}


def test_missing_characters_fall_back_to_modern_tones_and_are_reported():
    from engine.prosody import _rhyme_book

    rare = next(c for c in "嗨啦咖啡喔" if c not in _rhyme_book())
    tone = char_tone(rare)
    assert tone.source == "modern" and tone.tones
    poem = CHUNWANG.replace("烽火", rare + "火")
    assert rare in check(poem).fallback_chars


def test_patterns_follow_sticking_and_pairing():
    for form in JINTI_FORMS.values():
        patterns = tone_patterns(form)
        assert len({p.label_zh for p in patterns}) == 4
        for pattern in patterns:
            lines = pattern.lines
            assert all(len(line) == form.chars_per_line for line in lines)
            for i in range(1, len(lines)):
                same = lines[i][1] == lines[i - 1][1]
                assert same == (i % 2 == 0), (form.name, pattern.label_zh, i)
            for i in form.rhyme_lines:
                assert lines[i][-1] == PING
            for i in range(2, form.line_count, 2):
                assert lines[i][-1] == ZE


def test_lonely_level_and_three_level_tail_are_flagged():
    # 五律 line 2 (a B line 平平仄仄平) written 仄平仄仄平: 孤平.
    lonely = CHUNWANG.replace("城春草木深", "路春草木深")
    assert "lonely_level" in codes(check(lonely))
    # line 4 (a D line 仄仄仄平平) written 仄仄平平平: 三平尾.
    tail = CHUNWANG.replace("恨别鸟惊心", "恨别无惊心")
    assert "three_level_tail" in codes(check(tail))


def test_rescue_in_the_next_line_is_accepted_when_lenient():
    # 对句救: line 1 仄仄平仄仄 (4th char 仄) rescued by line 2 平平平仄平.
    poem = "野旷天已远，江清人自愁。孤帆初落处，明月半江流。"
    report = check(poem)
    assert report.format_ok
    assert not report.tone_ok
    assert report.tone_ok_lenient
    assert "tone" in codes(report, "warning")


def test_couplet_check():
    good = check_couplet("无边落木萧萧下", "不尽长江滚滚来")
    assert good.ok and good.tone_score == 1.0
    bad_ending = check_couplet("不尽长江滚滚来", "无边落木萧萧下")
    assert not bad_ending.ok
    assert {"first_end", "second_end"} <= {r.code for r in bad_ending.reasons}
    assert [r.code for r in check_couplet("春风", "秋风吹").reasons] == ["length"]
    same = check_couplet("明月松间照", "清泉石上照")
    assert "same_char" in [r.code for r in same.reasons]
    assert [r.code for r in check_couplet("", "清泉").reasons] == ["empty"]


def test_readings_missing_from_the_book_are_filled_in():
    from engine.prosody import MISSING_READINGS, _rhyme_book

    assert "下平声一先" in [group.label for group in level_groups("先")]  # the head of 一先 rhymes in it
    assert char_tone("先").can_be(ZE) and char_tone("嘆").can_be(ZE) and char_tone("槎").can_be(PING)
    assert char_tone("闲").tones == frozenset({PING})  # only the character named gets the reading
    for label in set(MISSING_READINGS.values()):  # each names a group the book has, not a new one
        members = [char for char, groups in _rhyme_book().items() if any(g.label == label for g in groups)]
        assert len(members) > 20, label


def test_a_first_line_ending_on_a_two_tone_character_is_read_as_not_rhyming():
    # 间 is 平 (删) or 仄 (谏); the poem rhymes in 支, so line 1 is read unrhymed, 间 as 仄
    poem = "一片清江两树间，几番春雨未成丝。三更雪发香先湿，九日风清水正奇。"
    report = check(poem + "不得不能传素客，更无端不作秋姿。何人莫遣人间路，犹有灵溪水满陂。", "qilv")
    assert report.rhyme_ok and report.rhyme_group == "上平声四支", report.reasons
    assert "首句不入韵" in report.pattern
    # a first line ending on a 平-only character must still rhyme
    report = check(
        poem.replace("间", "天", 1) + "不得不能传素客，更无端不作秋姿。何人莫遣人间路，犹有灵溪水满陂。", "qilv"
    )
    assert not report.rhyme_ok and any(r.code == "rhyme" and r.line == 1 for r in report.reasons)


def test_heard_tone_is_the_books_or_the_commonest_modern_reading():
    from engine.prosody import heard_tone

    assert heard_tone("国") == ZE and heard_tone("白") == ZE  # 入声: the book decides, not Mandarin
    assert heard_tone("乡") == PING and heard_tone("中") == PING  # 多音: most readers hear 平
    assert heard_tone("过") == ZE and heard_tone("看") == ZE
    assert heard_tone("a") is None and char_tone("a").source == "unknown"  # the data once rhymed "a" in 洽


def test_heard_groups_follow_the_common_reading():
    from engine.prosody import heard_groups

    assert [g.label for g in heard_groups("行")] == ["下平声八庚"]  # xíng, not háng (阳)
    assert [g.label for g in heard_groups("平")] == ["下平声八庚"]
    assert [g.label for g in heard_groups("车")] == ["下平声六麻"]
    assert len(heard_groups("儿")) == 2  # 支 or 齐: the final does not tell
    assert heard_groups("月") == () and heard_groups("明") == level_groups("明")
