"""Sheets of single samples of an aligned model, for readers to mark line by line (as ../2026-11-28-line-flags).

    make_sheets.py MODEL NAME[,NAME…] POEMS SEED   # writes NAME/lines.md and NAME/lines_key.json

Each poem is one candidate as the poet samples it — plan, boosts and constraints as served, but no ranking among
candidates and no rewrite — for requests drawn by dev_poems.wide_requests (development themes, the four forms): what
the model itself proposes, which is what alignment to readers' marks (bench/align.py) changes.
"""

import asyncio
import random
import sys
from pathlib import Path

import engine.poet

FOLDER = Path(__file__).resolve().parent
sys.path.insert(0, str(FOLDER.parents[1]))  # bench/
from dev_poems import load_poet, wide_requests  # noqa: E402
from line_sheets import write_sheet  # noqa: E402


async def main(model: str, names: list[str], per_sheet: int, seed: int) -> None:
    engine.poet.REWRITES = 0  # a quatrain's rewrite rounds
    engine.poet.LUSHI_REWRITTEN_TAIL = 0  # no line of a 律诗 may be rewritten
    poet = load_poet(model)
    poems = []
    for theme, form, poem_seed in wide_requests(len(names) * per_sheet, seed):
        poem = await poet.compose(theme, form=form, seed=poem_seed, n_candidates=1)
        poems.append({"lines": poem.lines, "theme": theme, "form": form, "seed": poem_seed, "model": model})
    await poet.close()
    random.Random(seed).shuffle(poems)
    for index, name in enumerate(names):
        write_sheet(FOLDER / name, poems[index * per_sheet : (index + 1) * per_sheet])
    print(f"{len(names)} sheets of {per_sheet} poems")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), int(sys.argv[4])))
