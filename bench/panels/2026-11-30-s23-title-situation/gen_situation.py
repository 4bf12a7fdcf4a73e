"""gen.py's dev poems, each theme given a situation: 1-2 words from a random train title that holds the theme
(added to the prompt's keywords only; no plan)."""

import asyncio
import collections
import json
import random
import sys

sys.path.insert(0, "/work/main")
sys.path.append("/work/main/bench")
from dev_poems import DEV_THEMES, load_poet

from engine.forms import JINTI_FORMS
from engine.lexicon import SHIPPED_LEXICON, Lexicon, title_terms

lex = Lexicon.load(SHIPPED_LEXICON)
titles = collections.defaultdict(list)
for line in open("/tmp/ljdata/corpus/poems.jsonl", encoding="utf-8"):
    r = json.loads(line)
    if r["split"] != "train" or r["form"] not in JINTI_FORMS or len(r["title"]) > 12:
        continue
    for t in DEV_THEMES:
        if t in r["title"]:
            titles[t].append(r["title"])


def situation(theme, rng):
    for _ in range(20):
        title = rng.choice(titles[theme])
        words = [w for w in title_terms(title) if len(w) == 2 and w in lex.idf and not set(w) & set(theme)]
        if words:
            rng.shuffle(words)
            return title, words[: rng.choice((1, 2))]
    return None, []


async def main(out, seed_base, forms):
    poet = load_poet("engine/weights/default")
    original = poet._keywords
    current = {}

    def keywords(model, theme, extra):
        words = original(model, theme, extra)
        for w in current.get("words", []):
            if w not in words and len(words) < 3 and all(c in model.masks.ids for c in w):
                words.append(w)
        return words

    poet._keywords = keywords
    with open(out, "w", encoding="utf-8") as handle:
        for i, theme in enumerate(DEV_THEMES):
            for form in forms:
                title, words = situation(theme, random.Random(seed_base + i))
                current["words"] = words
                poem = await poet.compose(theme, form=form, seed=seed_base + i)
                handle.write(
                    json.dumps({**poem.to_dict(), "theme": theme, "situation": [title, words]}, ensure_ascii=False)
                    + "\n"
                )
    await poet.close()


asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")))
