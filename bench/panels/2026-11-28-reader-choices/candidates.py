"""Every candidate the engine ranks (eight per request), for sheets of pairs to be judged by readers.

    candidates.py MODEL OUT COUNT SEED      # COUNT requests, each a random theme and form; seeds SEED, SEED+1, …

Themes: the development themes and about 130 common titles, none inside or around an acceptance theme.
"""

import asyncio
import json
import sys
from pathlib import Path

import engine.poet  # before bench/ joins the path: bench/engine.py would shadow the package

sys.path.append(str(Path(__file__).resolve().parents[2]))  # bench/
from dev_poems import load_poet, wide_requests  # noqa: E402

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
    with open(out, "w", encoding="utf-8") as handle:
        for theme, form, request_seed in wide_requests(count, seed):
            await poet.compose(theme, form=form, seed=request_seed, n_candidates=CANDIDATES)
            for candidate in captured.pop():
                handle.write(json.dumps({**candidate, "theme": theme}, ensure_ascii=False) + "\n")
    await poet.close()


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
