"""One 绝句 per dev theme and form (wujue, qijue): planned as today, or (setting=1) with a plan of the setting only."""

import asyncio
import json
import sys
from pathlib import Path

import engine.poet
from engine.poet import Poet
from engine.yardsticks import DEV_THEMES


async def main(model, out, setting_only):
    if setting_only:
        engine.poet.MAX_PLANNED_LINES = 0  # every form as a 律诗 is: no keywords, the setting and topic words
    poet = Poet(Path(model), "cpu-int8", Path("engine/weights/corpus_lines.bloom"))
    with open(out, "w") as handle:
        for i, theme in enumerate(DEV_THEMES):
            for form in ("wujue", "qijue"):
                poem = await poet.compose(theme, form=form, seed=1000 + i)
                handle.write(json.dumps({**poem.to_dict(), "theme": theme}, ensure_ascii=False) + "\n")
    await poet.close()


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3] == "1"))
