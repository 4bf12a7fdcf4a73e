"""Write one poem per dev theme and form with chosen compose options, as JSON lines for
`lianju eval --meaning --poems` and `bench/ab_panel.py make`.

Besides `compose`'s own options, the JSON may hold switches for what `compose` does not expose:
"forms" (a list, default all four), "seed_base" (the first slot's seed, default 1000), "no_plan" (the
served model's planner removed: the theme as the prompt's keywords only), and engine.poet constants to
override for the run: "PLAN_WEIGHT", "LIKELIHOOD_WEIGHT", "MAX_PLANNED_LINES".
"""

import asyncio
import json
import sys
from pathlib import Path

import engine.poet
from engine.poet import Poet
from engine.yardsticks import DEV_THEMES

CONSTANTS = ("PLAN_WEIGHT", "LIKELIHOOD_WEIGHT", "MAX_PLANNED_LINES")


async def main(model, out, options):
    forms = options.pop("forms", ["wujue", "qijue", "wulv", "qilv"])
    no_plan = options.pop("no_plan", False)
    seed_base = options.pop("seed_base", 1000)
    for name in CONSTANTS:
        if name in options:
            setattr(engine.poet, name, options.pop(name))
    poet = Poet(Path(model), "cpu-int8", Path("engine/weights/corpus_lines.bloom"))
    if no_plan:
        poet.model.planner = None
    with open(out, "w") as handle:
        for i, theme in enumerate(DEV_THEMES):
            for form in forms:
                poem = await poet.compose(theme, form=form, seed=seed_base + i, **options)
                handle.write(json.dumps({**poem.to_dict(), "theme": theme}, ensure_ascii=False) + "\n")
    await poet.close()


asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
