"""One poem per dev theme and form from MODEL with the engine as shipped but for one weight of the ranking
(a constant of engine.poet) set to VALUE: session 17's A/B panels of SEASON_CLASH_WEIGHT (0 against 1, all
forms) and of TOPIC_WEIGHT (0 against 2, FORMS wulv,qilv; bench/panels/2026-11-29-s17-topic*).

    OMP_NUM_THREADS=1 .venv/bin/python bench/panels/2026-11-29-s17-season/gen.py MODEL OUT.jsonl SEED NAME VALUE [FORMS]
"""

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository, before bench/ (bench/engine.py)
sys.path.insert(1, str(Path(__file__).resolve().parents[2]))  # bench/
from dev_poems import ALL_FORMS, load_poet, write_dev_poems  # noqa: E402

import engine.poet  # noqa: E402

model_dir, out, seed, name, value = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
forms = sys.argv[6].split(",") if len(sys.argv) > 6 else ALL_FORMS
if not isinstance(getattr(engine.poet, name, None), float):
    sys.exit(f"{name} is not a weight of engine.poet")
setattr(engine.poet, name, value)
asyncio.run(write_dev_poems(load_poet(model_dir), out, forms=forms, seed_base=seed))
