"""One poem per dev theme and form from MODEL with the engine as shipped but for the number of candidates a
request samples: session 20's A/B panel of 8 against 16 candidates for 律诗 (the 七律's time budget).

    OMP_NUM_THREADS=1 .venv/bin/python bench/panels/2026-11-30-s20-lushi-candidates/gen.py MODEL OUT SEED N [FORMS]
"""

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository, before bench/ (bench/engine.py)
sys.path.insert(1, str(Path(__file__).resolve().parents[2]))  # bench/
from dev_poems import ALL_FORMS, load_poet, write_dev_poems  # noqa: E402

model_dir, out, seed, candidates = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
forms = sys.argv[5].split(",") if len(sys.argv) > 5 else ALL_FORMS
asyncio.run(write_dev_poems(load_poet(model_dir), out, forms=forms, seed_base=seed, n_candidates=candidates))
