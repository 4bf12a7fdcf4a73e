"""One poem per dev theme and form from MODEL with the engine as shipped, the season-clash term of the ranking
(engine.poet.SEASON_CLASH_WEIGHT) set to WEIGHT: session 17's A/B panels of that term (0 against 1).

    OMP_NUM_THREADS=1 .venv/bin/python bench/panels/2026-11-29-s17-season/gen.py MODEL OUT.jsonl SEED WEIGHT
"""

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository, before bench/ (bench/engine.py)
sys.path.insert(1, str(Path(__file__).resolve().parents[2]))  # bench/
from dev_poems import load_poet, write_dev_poems  # noqa: E402

import engine.poet  # noqa: E402

model_dir, out, seed, weight = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
engine.poet.SEASON_CLASH_WEIGHT = weight
asyncio.run(write_dev_poems(load_poet(model_dir), out, seed_base=seed))
