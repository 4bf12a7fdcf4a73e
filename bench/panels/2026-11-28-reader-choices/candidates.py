"""Every candidate the engine ranks (eight per request), for sheets of pairs to be judged by readers.

    candidates.py MODEL OUT COUNT SEED      # COUNT requests, each a random theme and form; seeds SEED, SEED+1, …

Themes: the development themes and about 130 common titles, none inside or around an acceptance theme.
"""

import asyncio
import json
import random
import sys
from pathlib import Path

import engine.poet  # before bench/ joins the path: bench/engine.py would shadow the package
from engine.yardsticks import ACCEPTANCE_THEMES, DEV_THEMES

sys.path.append(str(Path(__file__).resolve().parents[2]))  # bench/
from dev_poems import load_poet  # noqa: E402

EXTRA = """梅花 春日 秋日 夜坐 江村 登楼 题画 赠别 晚眺 泛舟 偶成 病起 野望 溪上 道中 秋兴 春晚 雨中 杂兴
怀人 夜雨 晓起 书怀 感怀 秋怀 冬夜 春夜 夏夜 月夜 雪夜 桃花 杏花 海棠 莲 兰 鹤 燕 莺 渔父 樵 牧 山行
溪行 湖上 江上 楼 亭 园 寺 僧 隐者 故人 送人 归 梦 酒 茶 琴 书 剑 马 草 石 泉 云 风 水 鸟 秋风 春风 西风
晚春 初夏 秋晚 岁暮 新年 元宵 端午 立春 春寒 春愁 秋思 闲居 幽居 郊行 野步 池上 庭前 窗前 灯 钟 笛 扇
题壁 游山 观梅 赏花 对雪 对月 望月 听雨 独坐 夜归 江南 塞下 从军 出塞 宫词 隐居 归田 读书 老 病 酒醒""".split()
THEMES = [t for t in list(DEV_THEMES) + EXTRA if not any(a in t or t in a for a in ACCEPTANCE_THEMES)]
FORMS = ["wujue", "qijue", "wulv", "qilv"]
CANDIDATES = 8  # make_sheets.py reads the file eight rows a request
captured: list[list[dict]] = []
rank = engine.poet.Poet._best_poem


def capture(self, model, rows, candidates, form, request, seed, plan, liked, failing):
    poem = rank(self, model, rows, candidates, form, request, seed, plan, liked, failing)
    captured.append([{"lines": lines, "form": form.name, "chosen": lines == poem.lines} for lines in candidates])
    return poem


engine.poet.Poet._best_poem = capture


async def main(model: str, out: str, count: int, seed: int) -> None:
    poet = load_poet(model)
    rng = random.Random(seed)
    with open(out, "w", encoding="utf-8") as handle:
        for index in range(count):
            theme, form = rng.choice(THEMES), rng.choice(FORMS)
            await poet.compose(theme, form=form, seed=seed + index, n_candidates=CANDIDATES)
            for candidate in captured.pop():
                handle.write(json.dumps({**candidate, "theme": theme}, ensure_ascii=False) + "\n")
    await poet.close()


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
