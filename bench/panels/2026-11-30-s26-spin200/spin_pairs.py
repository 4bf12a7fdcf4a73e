"""Self-play pairs (SPIN, Chen et al. 2024) for `lianju align FILE --choices`: a real train poem whose title holds a
common title word, as the chosen poem, against the shipped model's poem on that word and form, as the rejected one.

    python bench/panels/2026-11-30-s26-spin200/spin_pairs.py COUNT OUT SEED   # from the repository root

Titles are those of bench/dev_poems.py's common titles, none inside or around a dev or acceptance theme; a
one-character word only in a title of at most three characters (咏鹤, but not 寄书), where it is the subject.
"""

import asyncio
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository, before bench/ (bench/engine.py)
sys.path.insert(1, str(Path(__file__).resolve().parents[2]))
from dev_poems import _COMMON_TITLES, load_poet  # noqa: E402

from bot.config import get_settings  # noqa: E402
from engine.forms import JINTI_FORMS  # noqa: E402
from engine.text import is_han  # noqa: E402
from engine.yardsticks import ACCEPTANCE_THEMES, DEV_THEMES, read_records  # noqa: E402


def real_poems(corpus: Path, words: list[str], vocab: dict[str, int]) -> list[tuple[str, dict]]:
    """(title word, poem) for every train 近体 poem titled with one of `words` (the longest first)."""
    found = []
    for poem in read_records(corpus):
        if poem["split"] != "train" or poem["form"] not in JINTI_FORMS:
            continue
        title = "".join(c for c in poem["title"] if is_han(c))
        word = next((w for w in words if w in title and (len(w) > 1 or len(title) <= 3)), None)
        if word and all(c in vocab for c in "".join(poem["lines"])):
            found.append((word, poem))
    return found


async def main(count: int, out: Path, seed: int) -> None:
    words = sorted(
        (w for w in _COMMON_TITLES if not any(a in w or w in a for a in (*ACCEPTANCE_THEMES, *DEV_THEMES))),
        key=len,
        reverse=True,
    )
    poet = load_poet("engine/weights/default")
    found = real_poems(get_settings().corpus_dir, words, poet.model.masks.ids)
    random.Random(seed).shuffle(found)
    # at most three times a word's fair share, so that the commonest titles (道中) do not crowd out the rest
    cap, per_word, picked = max(3, 3 * count // len(words)), {}, []
    for word, poem in found:
        if per_word.get(word, 0) < cap:
            per_word[word] = per_word.get(word, 0) + 1
            picked.append((word, poem))
    picked = picked[:count]
    with open(out, "w", encoding="utf-8") as handle:
        for start in range(0, len(picked), 32):
            chunk = picked[start : start + 32]
            ours = await asyncio.gather(
                *(poet.compose(word, form=poem["form"], seed=seed + start + i) for i, (word, poem) in enumerate(chunk))
            )
            for (word, poem), mine in zip(chunk, ours):
                pair = {"theme": word, "form": poem["form"], "chosen": poem["lines"], "rejected": mine.lines}
                handle.write(json.dumps(pair, ensure_ascii=False) + "\n")
            print(f"{start + len(chunk)} of {len(picked)}", file=sys.stderr, flush=True)
    await poet.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])))
