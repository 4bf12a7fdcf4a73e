"""The generator of the function-cost and number-cost panels: one poem per dev theme and form, with a
cost on every character of a class in every poem (planned or not).

    gen.py MODEL OUT COST [grammatical|numerals]

grammatical (the default): as the experiment ran before engine.poet had FUNCTION_COST, so compose's own
cost is set to 0 and only this one applies. numerals: on top of compose's defaults (FUNCTION_COST included).

    FORMS=wulv,qilv SEED=2000 OMP_NUM_THREADS=1 LIANJU_DATA_DIR=/tmp/ljdata .venv/bin/python \\
        bench/panels/2026-11-28-function-cost/gen.py engine/weights/default poems-B.jsonl 0.5
"""

import asyncio
import os
import sys
from pathlib import Path

import torch

import engine.sampling as sampling
from engine.text import GRAMMATICAL_CHARS

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/
from dev_poems import load_poet, write_dev_poems  # noqa: E402

NUMERALS = "一二三四五六七八九十百千万两"
model, out, cost = sys.argv[1], sys.argv[2], float(sys.argv[3])
charged_class = sys.argv[4] if len(sys.argv) > 4 else "grammatical"
CHARS, OWN_COST = (NUMERALS, {}) if charged_class == "numerals" else (GRAMMATICAL_CHARS, {"function_cost": 0.0})
FORMS = os.environ.get("FORMS", "wujue,qijue,wulv,qilv").split(",")
SEED = int(os.environ.get("SEED", "1000"))
choose = sampling._choose
charged = torch.tensor([], dtype=torch.long)


def with_cost(logits, row, generator):
    if cost:
        logits = logits.clone()
        logits[charged] -= cost
    return choose(logits, row, generator)


sampling._choose = with_cost


async def main():
    global charged
    poet = load_poet(model)
    ids = poet.model.masks.ids
    charged = torch.tensor([ids[c] for c in CHARS if c in ids])
    await write_dev_poems(poet, out, FORMS, SEED, **OWN_COST)


asyncio.run(main())
