"""The engine's chosen poems on the wide development themes (bench/dev_poems.py), one request at a time so
that every request gets all its candidates and rewrites.

    distill_gen.py MODEL OUT COUNT SEED      # COUNT requests, each a random theme and form; seeds SEED, SEED+1, …
"""

import asyncio
import json
import sys
from pathlib import Path

import engine.poet  # noqa: F401  # before bench/ joins the path: bench/engine.py would shadow the package

sys.path.append(str(Path(__file__).resolve().parents[2]))  # bench/
from dev_poems import load_poet, wide_requests  # noqa: E402


async def main(model: str, out: str, count: int, seed: int) -> None:
    poet = load_poet(model)
    with open(out, "w", encoding="utf-8") as handle:
        for theme, form, request_seed in wide_requests(count, seed):
            poem = await poet.compose(theme, form=form, seed=request_seed)
            handle.write(
                json.dumps({"theme": theme, "form": poem.form, "lines": poem.lines}, ensure_ascii=False) + "\n"
            )
    await poet.close()


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
