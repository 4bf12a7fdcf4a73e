"""The median time of a 七律 as the bot asks for it, under variants of engine.poet's constants, alternating.

    OMP_NUM_THREADS=2 .venv/bin/python bench/panels/2026-12-01-s27-qilv-search-b/time_qilv.py 20 \
        [NAME=n_candidates:8,CONSTANT:VALUE,CONSTANT:VALUE ...]

Themes and seeds as bench/engine.py's own measurement (theme i % 30, seed i), the int8 CPU poet. A variant names the
candidates compose samples (session 26's QILV_CANDIDATES, gone since) and engine.poet constants to set.
"""

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository
sys.path.insert(1, str(Path(__file__).resolve().parents[2]))  # bench/
from dev_poems import load_poet  # noqa: E402

import engine.poet  # noqa: E402

THEMES = "月春秋山水风花雪江云夜雨柳梅酒归雁舟松竹楼城草霜烟灯笛钟桥"  # bench/engine.py's
VARIANTS = {
    "session 26": {"n_candidates": 5, "LUSHI_REWRITTEN_TAIL": 4, "LUSHI_REWRITES": 1},
    "searched further": {"n_candidates": 8, "LUSHI_REWRITTEN_TAIL": 6, "LUSHI_REWRITES": 2},
}


async def main(rounds: int, variants: dict[str, dict[str, float]]) -> None:
    poet = load_poet("engine/weights/default")
    times: dict[str, list[float]] = {name: [] for name in variants}
    await poet.compose("月", form="qilv", seed=999)  # warm-up
    for i in range(rounds):
        for name, settings in variants.items():
            constants = dict(settings)
            candidates = int(constants.pop("n_candidates", engine.poet.LUSHI_CANDIDATES))
            for constant, value in constants.items():
                setattr(engine.poet, constant, value)
            started = time.perf_counter()
            await poet.compose(THEMES[i % len(THEMES)], form="qilv", seed=i, n_candidates=candidates)
            times[name].append(time.perf_counter() - started)
    for name, seconds in times.items():
        print(f"{name}: median {statistics.median(seconds):.3f} s, mean {statistics.mean(seconds):.3f} s")
    await poet.close()


def variant(spec: str) -> tuple[str, dict[str, float]]:
    name, settings = spec.split("=", 1)
    constants = (setting.split(":") for setting in settings.split(","))
    return name, {constant: float(value) if "." in value else int(value) for constant, value in constants}


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), {**VARIANTS, **dict(variant(spec) for spec in sys.argv[2:])}))
