"""Our poems for an A/B panel (bench/ab_panel.py): one per dev theme and form, as JSON lines.

The generators under bench/panels/ set the engine up for their variant (an option, a patched method) and
then all write their poems the same way, through `write_dev_poems`.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.poet import Poet
from engine.yardsticks import DEV_THEMES

ALL_FORMS = ("wujue", "qijue", "wulv", "qilv")


def load_poet(model: str | Path) -> Poet:
    """The poet as the panels run it: int8 on the CPU, with the shipped novelty filter."""
    return Poet(Path(model), "cpu-int8", Path("engine/weights/corpus_lines.bloom"))


async def write_dev_poems(
    poet: Poet, out: str | Path, forms: tuple[str, ...] | list[str] = ALL_FORMS, seed_base: int = 1000, **options
) -> None:
    """One poem per dev theme and form (theme i gets seed seed_base + i), written to `out`; closes the poet."""
    with open(out, "w", encoding="utf-8") as handle:
        for i, theme in enumerate(DEV_THEMES):
            for form in forms:
                poem = await poet.compose(theme, form=form, seed=seed_base + i, **options)
                handle.write(json.dumps({**poem.to_dict(), "theme": theme}, ensure_ascii=False) + "\n")
    await poet.close()
