"""The generator of the function-cost panels: one poem per dev theme and form, with a cost on every
grammatical character in every poem (planned or not), as the experiment ran before engine.poet had
FUNCTION_COST; compose's own cost is set to 0 so that only this one applies.

    FORMS=wulv,qilv SEED=2000 OMP_NUM_THREADS=1 LIANJU_DATA_DIR=/tmp/ljdata .venv/bin/python \\
        bench/panels/2026-11-28-function-cost/gen.py engine/weights/default poems-B.jsonl 0.5
"""

import asyncio
import json
import os
import sys
from pathlib import Path

import torch

import engine.sampling as sampling
from engine.poet import Poet
from engine.text import GRAMMATICAL_CHARS
from engine.yardsticks import DEV_THEMES

model, out, cost = sys.argv[1], sys.argv[2], float(sys.argv[3])
FORMS = os.environ.get("FORMS", "wujue,qijue,wulv,qilv").split(",")
SEED = int(os.environ.get("SEED", "1000"))
choose = sampling._choose
grammatical = torch.tensor([], dtype=torch.long)


def charged(logits, row, generator):
    if cost:
        logits = logits.clone()
        logits[grammatical] -= cost
    return choose(logits, row, generator)


sampling._choose = charged


async def main():
    global grammatical
    poet = Poet(Path(model), "cpu-int8", Path("engine/weights/corpus_lines.bloom"))
    ids = poet.model.masks.ids
    grammatical = torch.tensor([ids[c] for c in GRAMMATICAL_CHARS if c in ids])
    with open(out, "w") as handle:
        for i, theme in enumerate(DEV_THEMES):
            for form in FORMS:
                poem = await poet.compose(theme, form=form, seed=SEED + i, function_cost=0.0)
                handle.write(json.dumps({**poem.to_dict(), "theme": theme}, ensure_ascii=False) + "\n")
    await poet.close()


asyncio.run(main())
