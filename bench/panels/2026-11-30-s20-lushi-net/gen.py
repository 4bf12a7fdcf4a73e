"""One 律诗 per dev theme and form from MODEL with the engine as shipped but for the number of candidates and the
chance above which the closing couplet is rewritten: session 20's net change for 律诗 (8 candidates and 0.10)
against what shipped before it (16 and 0.15).

    OMP_NUM_THREADS=1 .venv/bin/python bench/panels/2026-11-30-s20-lushi-net/gen.py MODEL OUT SEED N CHANCE
"""

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository, before bench/ (bench/engine.py)
sys.path.insert(1, str(Path(__file__).resolve().parents[2]))  # bench/
from dev_poems import load_poet, write_dev_poems  # noqa: E402

import engine.poet  # noqa: E402

model_dir, out, seed, candidates, chance = (
    sys.argv[1],
    sys.argv[2],
    int(sys.argv[3]),
    int(sys.argv[4]),
    float(sys.argv[5]),
)
engine.poet.LUSHI_REWRITE_CHANCE = chance
poet = load_poet(model_dir)
asyncio.run(write_dev_poems(poet, out, forms=("wulv", "qilv"), seed_base=seed, n_candidates=candidates))
