"""One poem per dev theme and form from MODEL with the engine as shipped (or with compose() options given as
JSON): the A/B panels of session 16's models and of their decoding.

    OMP_NUM_THREADS=2 .venv/bin/python bench/panels/2026-11-29-gpu-model/gen.py MODEL OUT.jsonl [SEED] [OPTIONS]
    e.g. OPTIONS '{"topic_boost": 0, "plan_boost": 0}'
"""

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository, before bench/ (bench/engine.py)
sys.path.insert(1, str(Path(__file__).resolve().parents[2]))  # bench/
from dev_poems import load_poet, write_dev_poems  # noqa: E402

model_dir, out = sys.argv[1], sys.argv[2]
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1600
options = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
asyncio.run(write_dev_poems(load_poet(model_dir), out, seed_base=seed, **options))
