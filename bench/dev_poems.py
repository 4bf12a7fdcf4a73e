"""Our poems for an A/B panel (bench/ab_panel.py): one per dev theme and form, as JSON lines.

The generators under bench/panels/ set the engine up for their variant (an option, a patched method) and
then all write their poems the same way, through `write_dev_poems`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

from engine.poet import Poet
from engine.yardsticks import ACCEPTANCE_THEMES, DEV_THEMES

ALL_FORMS = ("wujue", "qijue", "wulv", "qilv")
# Common titles beyond the dev themes, for data drawn from many requests (readers' choices, fine-tunes).
_COMMON_TITLES = """梅花 春日 秋日 夜坐 江村 登楼 题画 赠别 晚眺 泛舟 偶成 病起 野望 溪上 道中 秋兴 春晚 雨中 杂兴
怀人 夜雨 晓起 书怀 感怀 秋怀 冬夜 春夜 夏夜 月夜 雪夜 桃花 杏花 海棠 莲 兰 鹤 燕 莺 渔父 樵 牧 山行
溪行 湖上 江上 楼 亭 园 寺 僧 隐者 故人 送人 归 梦 酒 茶 琴 书 剑 马 草 石 泉 云 风 水 鸟 秋风 春风 西风
晚春 初夏 秋晚 岁暮 新年 元宵 端午 立春 春寒 春愁 秋思 闲居 幽居 郊行 野步 池上 庭前 窗前 灯 钟 笛 扇
题壁 游山 观梅 赏花 对雪 对月 望月 听雨 独坐 夜归 江南 塞下 从军 出塞 宫词 隐居 归田 读书 老 病 酒醒""".split()
# the dev themes and those titles, none inside or around an acceptance theme
WIDE_THEMES = [t for t in list(DEV_THEMES) + _COMMON_TITLES if not any(a in t or t in a for a in ACCEPTANCE_THEMES)]
# Dev themes naming a time of day (none of the acceptance themes 秋夜 夜泊 早行 晚晴), for the time-clash term.
TIME_DEV_THEMES = tuple(
    "春夜 夏夜 冬夜 夜雨 夜坐 夜归 月夜 雪夜 暮归 晚眺 晚泊 夕照 暮雨 暮江 晓起 晓行 晓望 晨钟".split()
)


def wide_requests(count: int, seed: int) -> Iterator[tuple[str, str, int]]:
    """`count` requests (theme, form, seed) over WIDE_THEMES and the four forms, drawn with random.Random(seed);
    request i has seed `seed + i`."""
    rng = random.Random(seed)
    for index in range(count):
        yield rng.choice(WIDE_THEMES), rng.choice(ALL_FORMS), seed + index


def load_poet(model: str | Path) -> Poet:
    """The poet as the panels run it: int8 on the CPU, with the shipped novelty filter."""
    return Poet(Path(model), "cpu-int8", Path("engine/weights/corpus_lines.bloom"))


async def write_dev_poems(
    poet: Poet,
    out: str | Path,
    forms: tuple[str, ...] | list[str] = ALL_FORMS,
    seed_base: int = 1000,
    themes: tuple[str, ...] = DEV_THEMES,
    **options,
) -> None:
    """One poem per dev theme and form (theme i gets seed seed_base + i), written to `out`; closes the poet."""
    with open(out, "w", encoding="utf-8") as handle:
        for i, theme in enumerate(themes):
            for form in forms:
                poem = await poet.compose(theme, form=form, seed=seed_base + i, **options)
                handle.write(json.dumps({**poem.to_dict(), "theme": theme}, ensure_ascii=False) + "\n")
    await poet.close()
