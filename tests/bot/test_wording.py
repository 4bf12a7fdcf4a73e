"""What readers expect to read: Taiwan's words for zh-TW (but a poem's own), the old poets' days as daily themes."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from bot import i18n
from bot.games.common import Outcome
from bot.games.texts import describe, poem_credits
from bot.occasions import occasion_for
from bot.services import my_poems_entry, top_entry


def test_zh_tw_readers_read_taiwans_words():
    assert "伺服器" in i18n.text("error.permission", "zh-TW")
    assert "預設" in i18n.text("opt.server.desc", "zh-TW")
    assert i18n.bilingual("zh-TW", "设置不合法", "Invalid setting") == "設定不合法"
    assert "服务器" in i18n.text("error.permission", "zh-CN")


@pytest.mark.parametrize(
    ("day", "theme"),
    [
        (date(2026, 2, 23), "人日"),  # lunar 1/7
        (date(2026, 4, 19), "上巳"),  # lunar 3/3
        (date(2025, 4, 3), "寒食"),  # the day before 清明
        (date(2026, 8, 27), "中元"),  # lunar 7/15
        (date(2027, 1, 15), "腊八"),  # lunar 12/8
    ],
)
def test_the_daily_theme_knows_the_old_poets_days(day, theme):
    assert occasion_for(day).theme == theme


def test_zh_tw_readers_read_a_poem_in_its_own_words():
    line = "千里音书无信息"  # s2twp, for the bot's own words, would make 信息 資訊
    written = describe(Outcome(True, line=line, by=1), "zh-TW", lambda who: "甲")
    assert written == "甲：千里音書無信息"
    assert poem_credits(Outcome(True, poem=[(line, 1)]), "zh-TW", lambda who: "甲").startswith("千里音書無信息")
    poem = SimpleNamespace(id=7, theme="寄远", lines=[line, "一只鸿雁过"])
    assert my_poems_entry(poem, "zh-TW") == "#7 《寄遠》 千里音書無信息……"
    assert my_poems_entry(poem, "zh-CN", 4) == "#7 《寄远》 千里音书……"
    rated = SimpleNamespace(poem=poem, rating=SimpleNamespace(mean=4.5, count=2))
    assert top_entry(1, rated, "zh-TW").endswith("> 千里音書無信息……") and "寄遠" in top_entry(1, rated, "zh-TW")
