"""The engine's chosen poems on development themes (never acceptance ones), one request at a time."""
import asyncio, json, random, sys
from pathlib import Path
sys.path.insert(0, '/work/main')
import engine.poet
from engine.yardsticks import ACCEPTANCE_THEMES, DEV_THEMES
sys.path.append('/work/main/bench')
from dev_poems import load_poet
src = open('/work/main/bench/panels/2026-11-28-reader-choices/candidates.py').read()
EXTRA = src.split('EXTRA = """')[1].split('"""')[0].split()
THEMES = [t for t in list(DEV_THEMES) + EXTRA if not any(a in t or t in a for a in ACCEPTANCE_THEMES)]
FORMS = ["wujue", "qijue", "wulv", "qilv"]
async def main(model, out, count, seed):
    poet = load_poet(model); rng = random.Random(seed)
    with open(out, "w", encoding="utf-8") as handle:
        for index in range(count):
            theme, form = rng.choice(THEMES), rng.choice(FORMS)
            poem = await poet.compose(theme, form=form, seed=seed + index)
            handle.write(json.dumps({"theme": theme, "form": poem.form, "lines": poem.lines}, ensure_ascii=False) + "\n")
            if index % 200 == 0: print(index, flush=True)
    await poet.close()
asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
