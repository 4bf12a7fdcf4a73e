"""The generator of the season-clash panel: one poem per dev theme and form; with "on", candidates that hold
another season's marks than the plan's are passed over when a candidate without them exists.

    gen.py MODEL OUT on|off      (SEED=6000, 7000, 8000 for the three rounds)

A season's marks: the characters engine.planning.SEASONS names, and the two-character words that only that
season's topic list (engine.lexicon, its first 48) holds, less a few that readers do not hear as a season.
"""

import asyncio
import os
import sys
from collections import defaultdict
from pathlib import Path

from engine.lexicon import SHIPPED_LEXICON, Lexicon
from engine.planning import SEASONS, UNMARKED_WORDS, classes_of
from engine.poet import Poet

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # bench/
from dev_poems import load_poet, write_dev_poems  # noqa: E402

NOT_HEARD_AS_A_SEASON = set("风光 月色 清光 萧萧 居好 惊岁 天公 忽忽 芳草 微凉".split())
lexicon = Lexicon.load(SHIPPED_LEXICON)
owners = defaultdict(set)
for season in SEASONS:
    for word, _ in lexicon.topic_words(season)[:48]:
        if len(word) == 2:
            owners[word].add(season)
MARK_WORDS = {
    word: next(iter(seasons))
    for word, seasons in owners.items()
    if len(seasons) == 1
    and word not in UNMARKED_WORDS | NOT_HEARD_AS_A_SEASON
    and not classes_of(word, SEASONS) - seasons
}


def seasons_in(text: str) -> set[str]:
    found = {MARK_WORDS[text[i : i + 2]] for i in range(len(text) - 1) if text[i : i + 2] in MARK_WORDS}
    return found | {season for char in text for season, marks in SEASONS.items() if char in marks}


model_dir, out, on = sys.argv[1], sys.argv[2], sys.argv[3] == "on"
SEED = int(os.environ.get("SEED", "6000"))
choose_best = Poet._best_poem


def other_seasons(lines, plan) -> int:
    if not plan or not plan.season:
        return 0
    return len(seasons_in("".join(lines)) - {plan.season} - seasons_in("".join(plan.keywords)))


def without_clash(self, model, rows, candidates, form, request, seed, plan, liked, failing):
    counts = [other_seasons(lines, plan) for lines in candidates]
    if on and min(counts) < max(counts):
        keep = [i for i, count in enumerate(counts) if count == min(counts)]
        rows, candidates = [rows[i] for i in keep], [candidates[i] for i in keep]
        liked, failing = [liked[i] for i in keep], [failing[i] for i in keep]
    return choose_best(self, model, rows, candidates, form, request, seed, plan, liked, failing)


Poet._best_poem = without_clash


asyncio.run(write_dev_poems(load_poet(model_dir), out, seed_base=SEED))
