"""gen.py with a 'no_plan' switch: the served model's planner removed (theme keywords only)."""

import asyncio
import json
import sys
from pathlib import Path

from engine.poet import Poet
from engine.yardsticks import DEV_THEMES


async def main(model, out, options):
    no_plan = options.pop("no_plan", False)
    if "likelihood_weight" in options:
        import engine.poet

        engine.poet.LIKELIHOOD_WEIGHT = options.pop("likelihood_weight")
    if options.pop("no_plan_weight", False):
        import engine.poet

        engine.poet.PLAN_WEIGHT = 0.0
    poet = Poet(Path(model), "cpu-int8", Path("engine/weights/corpus_lines.bloom"))
    if no_plan:
        poet.model.planner = None
    with open(out, "w") as handle:
        for i, theme in enumerate(DEV_THEMES):
            for form in ("wujue", "qijue", "wulv", "qilv"):
                poem = await poet.compose(theme, form=form, seed=1000 + i, **options)
                handle.write(json.dumps({**poem.to_dict(), "theme": theme}, ensure_ascii=False) + "\n")
    await poet.close()


asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
