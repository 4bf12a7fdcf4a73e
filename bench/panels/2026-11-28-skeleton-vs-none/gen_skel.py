"""Prototype: plan = the line keywords of a real train poem (lexicon half) titled with the theme."""

import asyncio
import json
import sys
from pathlib import Path

from engine.lexicon import lexicon_half, title_terms
from engine.planning import Plan
from engine.poet import Poet
from engine.train import load_corpus
from engine.yardsticks import DEV_THEMES

corpus = load_corpus(Path("/tmp/ljdata/corpus"))["train"][0]


class SkeletonPlanner:
    def __init__(self, base, lexicon):
        self.base, self.lexicon = base, lexicon
        self.by_term = {}
        for r in corpus:
            if lexicon_half(r["id"]) != 0:
                continue
            for t in title_terms(r["title"]):
                self.by_term.setdefault(t, []).append(r)

    def plan(self, theme, line_count, rng, user_keywords=()):
        pool = [r for r in self.by_term.get(theme, []) if len(r["lines"]) == line_count]
        if not pool or user_keywords:
            return self.base.plan(theme, line_count, rng, user_keywords=user_keywords)
        r = rng.choice(pool)
        return Plan(tuple(self.lexicon.line_keywords(r["lines"])), None, None, "poem:" + r["id"])


async def main(model, out):
    poet = Poet(Path(model), "cpu-int8", Path("engine/weights/corpus_lines.bloom"))
    poet.model.planner = SkeletonPlanner(poet.model.planner, poet.lexicon)
    with open(out, "w") as handle:
        for i, theme in enumerate(DEV_THEMES):
            for form in ("wujue", "qijue", "wulv", "qilv"):
                poem = await poet.compose(theme, form=form, seed=1000 + i)
                handle.write(json.dumps({**poem.to_dict(), "theme": theme}, ensure_ascii=False) + "\n")
    await poet.close()


asyncio.run(main(sys.argv[1], sys.argv[2]))
