"""One 律诗 per dev theme and form from MODEL with the engine as shipped but for the rounds of rewriting a 律诗
gets (engine.poet.LUSHI_REWRITES): session 20's A/B panel of two rounds against one.

    OMP_NUM_THREADS=1 .venv/bin/python bench/panels/2026-11-30-s20-lushi-rewrites-2/gen.py MODEL OUT SEED ROUNDS
"""

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository, before bench/ (bench/engine.py)
sys.path.insert(1, str(Path(__file__).resolve().parents[2]))  # bench/
from dev_poems import load_poet, write_dev_poems  # noqa: E402

import engine.poet  # noqa: E402

model_dir, out, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
engine.poet.LUSHI_REWRITES = int(sys.argv[4])
asyncio.run(write_dev_poems(load_poet(model_dir), out, forms=("wulv", "qilv"), seed_base=seed))
