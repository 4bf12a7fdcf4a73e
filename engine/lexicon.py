"""Words of the corpus, the salient word of each line, and what poems on a theme talk about.

Planning-based generation (Wang et al. 2016; THU's Jiuge) writes a poem line by line to a plan of
one keyword per line. Two things here make that possible:

- `Lexicon.line_keywords(lines)`: the most salient word of each line of a real poem. Training
  prompts carry these (engine.prompts), so the model learns to write each line to its keyword.
- `Lexicon.topic_words(theme)`: the words that poems titled with the theme use more than poems in
  general (从军 → 关山, 烽火 …), mined from the corpus. engine.planning turns them into a plan.

A "word" is a character, or two adjacent characters that co-occur far more than chance (PMI) and
often enough to be a real word (明月, 关山, 画舫). No segmenter does classical Chinese well
(jieba's dictionary is modern), and two-character words carry most of a poem's images.

Which poems teach the topic words: the train split's poems whose id hashes to an even number.
The theme yardstick (engine.yardsticks) profiles themes from the odd half, so a plan mined here
cannot teach to the test that judges it.
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from pathlib import Path

from tqdm import tqdm

from engine.text import is_han

SHIPPED_LEXICON = Path(__file__).with_name("weights") / "lexicon.json.gz"
LEXICON_FILE = "lexicon.json.gz"

# Characters too common or too grammatical to say what a line is about.
FUNCTION_CHARS = frozenset(
    "不之一人无有何自来中上下为是此其如犹已相与而以于在我君今未亦又可皆还更谁几时所得见知多"
    "也乎者焉哉矣兮莫勿非若但只且却便即共同将欲能应须当才方曾已每各诸尽最甚太"
)
MIN_WORD_COUNT = 20  # a pair seen fewer times is not a word we can plan with
MIN_WORD_PMI = 1.5  # nats: the pair co-occurs at least e^1.5 ≈ 4.5 times more than chance
MIN_DF = 30  # poems a keyword must occur in: rarer words are not plannable
WORD_BONUS = 1.0  # a two-character word says more than either of its characters
MIN_TOPIC_POEMS = 12  # titles sharing a term before the term gets a topic list
TOPIC_WORDS = 48  # words kept per term
# A term titled by fewer poems than this borrows from its characters' lists too (羁旅 from 旅).
FEW_TOPIC_POEMS = 60
# Pseudo-poems at the background rate added to each term's counts, so that a word two of twelve
# poems happen to use does not look telling.
PRIOR_POEMS = 20
BOUND_SHARE = 0.6  # a character found in one word this often (鹦 in 鹦鹉) is not a keyword alone


def lexicon_half(poem_id: str) -> int:
    """0 for the poems that teach topic words, 1 for those the theme yardstick profiles with."""
    return int(hashlib.sha1(poem_id.encode()).hexdigest(), 16) % 2


def title_terms(title: str) -> set[str]:
    """Every one- and two-character run inside the title's Han text (not across punctuation)."""
    runs = re.findall(r"[^\W\d_a-zA-Z]+", "".join(c if is_han(c) else " " for c in title))
    return {run[i : i + n] for run in runs for n in (1, 2) for i in range(len(run) - n + 1)}


def line_words(line: str, known: dict[str, float]) -> list[str]:
    """The plannable words of a line: its content characters and the two-character words in it."""
    chars = [c for c in line if c in known]
    pairs = [line[i : i + 2] for i in range(len(line) - 1) if line[i : i + 2] in known]
    return pairs + chars


@dataclass
class Lexicon:
    idf: dict[str, float]  # every plannable word → log(poems / poems containing it)
    topics: dict[str, list[tuple[str, float]]]  # title term → its words, most telling first
    topic_poems: dict[str, int]  # title term → how many poems its list was mined from

    # -----------------------------------------------------------------------------------------
    # the salient word of each line, for training prompts

    def salience(self, word: str) -> float:
        return self.idf[word] + (WORD_BONUS if len(word) == 2 else 0.0)

    def line_keywords(self, lines: list[str]) -> list[str]:
        """One keyword per line: its most salient plannable word, never one used for an earlier
        line; the line's last content character when it has no plannable word."""
        keywords: list[str] = []
        for line in lines:
            words = [w for w in line_words(line, self.idf) if w not in keywords]
            if words:
                keywords.append(max(words, key=self.salience))
            else:
                keywords.append(next((c for c in reversed(line) if c not in FUNCTION_CHARS), line[-1]))
        return keywords

    # -----------------------------------------------------------------------------------------
    # the words of a theme

    def has_own_topic(self, theme: str) -> bool:
        """Whether enough poems are titled with the theme for its words to be its own."""
        return bool(self.topics.get(theme)) and (len(theme) == 1 or self.topic_poems.get(theme, 0) >= FEW_TOPIC_POEMS)

    def topic_parts(self, theme: str) -> list[str]:
        """The parts a theme without a topic list of its own borrows from: its two-character parts
        that have one (黄鹤楼 → 黄鹤, 鹤楼), else its characters that have one."""
        for n in (2, 1):
            parts = [
                theme[i : i + n]
                for i in range(len(theme) - n + 1)
                if theme[i : i + n] in self.topics and theme[i : i + n] != theme
            ]
            if parts:
                return parts
        return []

    def topic_words(self, theme: str) -> list[tuple[str, float]]:
        """The theme's words with scores, most telling first. A theme with no topic list of its
        own borrows from its parts (topic_parts)."""
        own = self.topics.get(theme, [])
        if self.has_own_topic(theme):
            return own
        merged: defaultdict[str, float] = defaultdict(float, {word: 2 * score for word, score in own})
        parts = self.topic_parts(theme)
        for part in parts:
            for word, score in self.topics[part]:
                merged[word] += score / len(parts)
        # as Counter.most_common does: ties in insertion order
        return heapq.nlargest(TOPIC_WORDS, merged.items(), key=itemgetter(1))

    # -----------------------------------------------------------------------------------------
    # files

    def save(self, path: Path) -> None:
        payload = {
            "idf": {w: round(v, 3) for w, v in self.idf.items()},
            "topics": {t: [[w, round(s, 4)] for w, s in words] for t, words in self.topics.items()},
            "topic_poems": self.topic_poems,
        }
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            json.dump(payload, handle, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        """The lexicon in the file, read once per process while the file is unchanged: every Poet (the
        bot's, a fine-tune's evaluation, an A/B script's two) reads it, 680k topic entries that take
        1.5-2 s of JSON on two cores, and nothing changes a Lexicon once made."""
        status = path.stat()
        return _read_lexicon(path.resolve(), status.st_mtime_ns, status.st_size)


@lru_cache(maxsize=4)
def _read_lexicon(path: Path, mtime_ns: int, size: int) -> Lexicon:
    """Lexicon.load's reading; mtime and size are in the key so that a lexicon written anew is read anew."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        payload = json.load(handle)
    topics = {term: [(w, s) for w, s in words] for term, words in payload["topics"].items()}
    return Lexicon(idf=payload["idf"], topics=topics, topic_poems=payload["topic_poems"])


def build_lexicon(records: Iterable[dict], progress: bool = True) -> Lexicon:
    """Mine words and topic lists from the train split's poem records (any form)."""
    poems = [r for r in records if r["split"] == "train"]
    chars: Counter[str] = Counter()
    pairs: Counter[str] = Counter()
    for record in tqdm(poems, desc="lexicon: counting", disable=not progress, unit="poem"):
        for line in record["lines"]:
            chars.update(line)
            pairs.update(line[i : i + 2] for i in range(len(line) - 1))
    total = sum(chars.values()) or 1
    candidates = {c for c in chars if is_han(c) and c not in FUNCTION_CHARS}
    for pair, count in pairs.items():
        a, b = pair[0], pair[1]
        if (
            count >= MIN_WORD_COUNT
            and a in candidates
            and b in candidates
            and math.log(count * total / (chars[a] * chars[b])) >= MIN_WORD_PMI
        ):
            candidates.add(pair)

    # document frequency of every candidate, over all train poems and per title term (even half)
    df: Counter[str] = Counter()
    poem_words: list[set[str]] = []
    term_poems: Counter[str] = Counter()
    for record in tqdm(poems, desc="lexicon: poems", disable=not progress, unit="poem"):
        words = {w for line in record["lines"] for w in line_words(line, candidates)}  # type: ignore[arg-type]
        df.update(words)
        poem_words.append(words)
        if lexicon_half(record["id"]) == 0:
            term_poems.update(title_terms(record["title"]))
    n = len(poems) or 1
    idf = {w: math.log(n / count) for w, count in df.items() if count >= MIN_DF}

    terms = {t for t, count in term_poems.items() if count >= MIN_TOPIC_POEMS}
    term_df: dict[str, Counter[str]] = {t: Counter() for t in terms}
    for record, words in tqdm(
        zip(poems, poem_words), total=len(poems), desc="lexicon: topics", disable=not progress, unit="poem"
    ):
        if lexicon_half(record["id"]) != 0:
            continue
        plannable = [w for w in words if w in idf]
        for term in title_terms(record["title"]) & terms:
            term_df[term].update(plannable)
    in_words: Counter[str] = Counter()  # character → df of the commonest word holding it
    for word in idf:
        for c in word if len(word) == 2 else ():
            in_words[c] = max(in_words[c], df[word])
    bound = {c for c in idf if len(c) == 1 and in_words[c] >= BOUND_SHARE * df[c]}
    topics = {}
    for term, counts in term_df.items():
        size = term_poems[term]
        scored = []
        for word, count in counts.items():
            background = df[word] / n
            lift = math.log((count + PRIOR_POEMS * background) / (size + PRIOR_POEMS) / background)
            # telling = used by many of the theme's poems, and much more than by poems in general
            if count >= 2 and lift >= math.log(2) and word not in bound:
                scored.append((word, count / size * lift))
        scored.sort(key=lambda item: -item[1])
        if scored:
            topics[term] = scored[:TOPIC_WORDS]
    return Lexicon(idf=idf, topics=topics, topic_poems={t: term_poems[t] for t in topics})
