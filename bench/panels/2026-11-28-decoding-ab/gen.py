"""Write one poem per dev theme and form with chosen compose options, as JSON lines for
`lianju eval --meaning --poems` and `bench/ab_panel.py make`.

Besides `compose`'s own options, the JSON may hold switches for what `compose` does not expose:
"forms" (a list, default all four), "seed_base" (the first slot's seed, default 1000), "no_plan" (the
served model's planner removed: the theme as the prompt's keywords only), and engine.poet constants to
override for the run: "PLAN_WEIGHT", "LIKELIHOOD_WEIGHT", "MAX_PLANNED_LINES", "READER_WEIGHT",
"LINE_READER_WEIGHT", "REWRITES", "REWRITE_CHANCE", "LUSHI_REWRITTEN_TAIL", "LUSHI_REWRITE_CHANCE",
"QUATRAIN_LAST_LINE_CHANCE", "LUSHI_MIDDLE_REWRITE_CHANCE", "TOPIC_WEIGHT", "MAX_QUEUED_FOR_REWRITE_S",
"LUSHI_REWRITES"; and "themes" (a list, default the dev themes). (Session 22's panels passed "REWRITE_WITHIN_S":
10, the clock limit of the time, raised so that two generators sharing the two cores rewrote as the bot does for one
user; the queue limit that replaced it does not depend on the machine's speed.)
"""

import asyncio
import json
import sys
from pathlib import Path

import engine.poet

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/
from dev_poems import load_poet, write_dev_poems  # noqa: E402

CONSTANTS = (
    "PLAN_WEIGHT",
    "LIKELIHOOD_WEIGHT",
    "MAX_PLANNED_LINES",
    "READER_WEIGHT",
    "LINE_READER_WEIGHT",
    "REWRITES",
    "REWRITE_CHANCE",
    "LUSHI_REWRITTEN_TAIL",
    "LUSHI_REWRITE_CHANCE",
    "QUATRAIN_LAST_LINE_CHANCE",
    "MAX_QUEUED_FOR_REWRITE_S",
    "LUSHI_MIDDLE_REWRITE_CHANCE",
    "TOPIC_WEIGHT",
    "LUSHI_REWRITES",
)


async def main(model, out, options):
    forms = options.pop("forms", ["wujue", "qijue", "wulv", "qilv"])
    no_plan = options.pop("no_plan", False)
    seed_base = options.pop("seed_base", 1000)
    for name in CONSTANTS:
        if name in options:
            setattr(engine.poet, name, options.pop(name))
    poet = load_poet(model)
    if no_plan:
        poet.model.planner = None
    await write_dev_poems(poet, out, forms, seed_base, **options)


asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
