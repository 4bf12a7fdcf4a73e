"""One 律诗 per dev theme and form (wulv, qilv) with the given compose options."""

import asyncio
import json
import sys
from pathlib import Path

from engine.poet import Poet
from engine.yardsticks import DEV_THEMES


async def main(model, out, options):
    poet = Poet(Path(model), "cpu-int8", Path("engine/weights/corpus_lines.bloom"))
    with open(out, "w") as handle:
        for i, theme in enumerate(DEV_THEMES):
            for form in ("wulv", "qilv"):
                poem = await poet.compose(theme, form=form, seed=1000 + i, **options)
                handle.write(json.dumps({**poem.to_dict(), "theme": theme}, ensure_ascii=False) + "\n")
    await poet.close()


asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
