"""What readers expect to read: Taiwan's words for zh-TW, the old poets' days as daily themes."""

from __future__ import annotations

from datetime import date

import pytest

from bot import i18n
from bot.occasions import occasion_for


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
