"""律诗 per dev theme, rewritten as shipped (its closing couplet from a chance of 0.10) or, with NECK, also from its
lines 5-6 when their chance of being marked is above NECK (session 21's A/B of a rewritten 颈联).

    OMP_NUM_THREADS=1 .venv/bin/python bench/panels/2026-11-30-s21-lushi-neck-0.15/gen.py MODEL OUT SEED [NECK]
"""

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository, before bench/ (bench/engine.py)
sys.path.insert(1, str(Path(__file__).resolve().parents[2]))  # bench/
from dev_poems import load_poet, write_dev_poems  # noqa: E402

import engine.poet  # noqa: E402

model_dir, out, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
if len(sys.argv) > 4:
    neck = float(sys.argv[4])
    shipped = engine.poet.Poet._rewrite_thresholds

    def with_neck(form, given):
        chances = shipped(form, given)
        if form.line_count > 4:  # lines 5-6, unless the user gave them
            chances[4:6] = [neck if index >= given else chance for index, chance in zip((4, 5), chances[4:6])]
        return chances

    engine.poet.Poet._rewrite_thresholds = staticmethod(with_neck)
asyncio.run(write_dev_poems(load_poet(model_dir), out, forms=("wulv", "qilv"), seed_base=seed))
