"""Quatrains from a first line alone (held-out test poems' first lines): planned as today, or not."""

import asyncio
import json
import random
import sys
from pathlib import Path

from engine.poet import Poet, PoetError
from engine.train import load_corpus

test = [r for r in load_corpus(Path("/tmp/ljdata/corpus"))["test"][0] if r["form"] in ("wujue", "qijue")]
random.Random(5).shuffle(test)


async def main(model, out, no_plan):
    poet = Poet(Path(model), "cpu-int8", Path("engine/weights/corpus_lines.bloom"))
    if no_plan:
        poet.model.planner = None
    done = 0
    with open(out, "w") as handle:
        for i, r in enumerate(test):
            if done == 40:
                break
            try:
                poem = await poet.compose("", first_line=r["lines"][0], form=r["form"], seed=2000 + i)
            except PoetError:
                continue
            done += 1
            handle.write(json.dumps({**poem.to_dict(), "theme": "起句：" + r["lines"][0]}, ensure_ascii=False) + "\n")
    await poet.close()


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] == "1"))
