"""The theme of the day for the daily poem: a festival, else a solar term (节气), else the season."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from lunar_python import Solar

# lunar-python's festival names → the theme the poem is written on.
FESTIVAL_THEMES = {
    "春节": "新春",
    "元宵节": "元宵",
    "端午节": "端午",
    "七夕节": "七夕",
    "中秋节": "中秋",
    "重阳节": "重阳",
    "除夕": "除夕",
    "元旦节": "新岁",
    # Days the old poets wrote on that lunar-python counts among its "other" festivals.
    "人日": "人日",
    "上巳节": "上巳",
    "寒食节": "寒食",
    "中元节": "中元",
    "腊八节": "腊八",
}
SOLAR_FESTIVALS = {"元旦节"}  # the one Gregorian festival among them

SEASON_OF_TERM = {
    **dict.fromkeys(("立春", "雨水", "惊蛰", "春分", "清明", "谷雨"), "春"),
    **dict.fromkeys(("立夏", "小满", "芒种", "夏至", "小暑", "大暑"), "夏"),
    **dict.fromkeys(("立秋", "处暑", "白露", "秋分", "寒露", "霜降"), "秋"),
    **dict.fromkeys(("立冬", "小雪", "大雪", "冬至", "小寒", "大寒"), "冬"),
}


@dataclass(frozen=True)
class Occasion:
    theme: str  # what the poem is written on
    name: str  # what the post says the day is: 中秋节, 清明, 秋


def occasion_for(day: date) -> Occasion:
    solar = Solar.fromYmd(day.year, day.month, day.day)
    lunar = solar.getLunar()
    festivals = (
        *lunar.getFestivals(),
        *lunar.getOtherFestivals(),
        *(f for f in solar.getFestivals() if f in SOLAR_FESTIVALS),
    )
    for festival in festivals:
        if festival in FESTIVAL_THEMES:
            return Occasion(FESTIVAL_THEMES[festival], festival)
    term = lunar.getJieQi()
    if term in SEASON_OF_TERM:
        return Occasion(term, term)
    season = SEASON_OF_TERM[lunar.getPrevJieQi(True).getName()]
    return Occasion(season, f"{season}日")
