"""gen.py's dev poems, each planned with the line keywords of a train poem on its theme (the training plans' own
kind: `Lexicon.line_keywords` of a real poem, so the plan's words hang together and move as a poem does), instead
of the shipped setting-only plan. A train poem of the form's line count whose title holds the theme; failing 3 such,
one whose text holds it; failing that, the shipped plan."""

import asyncio
import collections
import json
import random
import sys

sys.path.insert(0, "/work/main")
sys.path.append("/work/main/bench")
from dev_poems import DEV_THEMES, load_poet

from engine.forms import JINTI_FORMS
from engine.lexicon import SHIPPED_LEXICON, Lexicon
from engine.planning import SEASONS, TIMES, Plan, classes_of

lex = Lexicon.load(SHIPPED_LEXICON)
themes = json.loads(sys.argv[4]) if len(sys.argv) > 4 else list(DEV_THEMES)
by_title = collections.defaultdict(list)
by_text = collections.defaultdict(list)
for line in open("/tmp/ljdata/corpus/poems.jsonl", encoding="utf-8"):
    r = json.loads(line)
    if r["split"] != "train" or r["form"] not in JINTI_FORMS:
        continue
    for t in themes:
        if t in r["title"]:
            by_title[(t, len(r["lines"]))].append(r)
        elif t in r["text"]:
            by_text[(t, len(r["lines"]))].append(r)


def one_class(words, classes):
    marked = set().union(*(classes_of(w, classes) for w in words))
    return marked.pop() if len(marked) == 1 else None


def borrowed(theme, line_count, rng):
    pool = by_title[(theme, line_count)]
    if len(pool) < 3:
        pool = pool + by_text[(theme, line_count)]
    if not pool:
        return None, None
    poem = rng.choice(pool)
    keywords = lex.line_keywords(poem["lines"])
    return poem, Plan(tuple(keywords), one_class(keywords, SEASONS), one_class(keywords, TIMES), "poem:" + poem["id"])


async def main(out, seed_base, forms):
    poet = load_poet("engine/weights/default")
    shipped = poet._plan
    current = {}

    def plan(model, request, form, rng):
        return current["plan"] or shipped(model, request, form, rng)

    poet._plan = plan
    with open(out, "w", encoding="utf-8") as handle:
        for i, theme in enumerate(themes):
            for form in forms:
                source, current["plan"] = borrowed(theme, JINTI_FORMS[form].line_count, random.Random(seed_base + i))
                poem = await poet.compose(theme, form=form, seed=seed_base + i)
                record = {**poem.to_dict(), "theme": theme, "borrowed_from": source and source["id"]}
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    await poet.close()


asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")))
