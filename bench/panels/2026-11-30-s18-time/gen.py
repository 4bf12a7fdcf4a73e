"""One poem per time-naming dev theme (bench/dev_poems.TIME_DEV_THEMES) and form from MODEL, with the engine
as shipped but TIME_CLASH_WEIGHT set to VALUE: session 18's A/B panel of the time-clash term (0 against 1).

    OMP_NUM_THREADS=1 .venv/bin/python bench/panels/2026-11-30-s18-time/gen.py MODEL OUT.jsonl SEED VALUE
"""

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository, before bench/ (bench/engine.py)
sys.path.insert(1, str(Path(__file__).resolve().parents[2]))  # bench/
from dev_poems import TIME_DEV_THEMES, load_poet, write_dev_poems  # noqa: E402

import engine.poet  # noqa: E402

model_dir, out, seed, value = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
engine.poet.TIME_CLASH_WEIGHT = value
asyncio.run(write_dev_poems(load_poet(model_dir), out, seed_base=seed, themes=TIME_DEV_THEMES))
