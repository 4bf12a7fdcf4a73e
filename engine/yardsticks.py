"""Yardsticks of meaning: does a poem develop its theme, hang together, and read like real Chinese?

A poem that scans can still be nonsense. These measures say how far our poems are from real ones,
from corpus statistics alone, so every model is judged by the same rulers (a blind panel is the
other half of issue 14 and lives elsewhere). Each yardstick comes with anchors: held-out real poems
(the ceiling) and something that should score low (the floor), so a number reads as "this share of
the way from nonsense to real poetry".

1. Theme development. Per theme, a profile: the centroid of the tf-idf character vectors of the
   TRAIN 近体 poems whose title contains the theme, using only the half of the train split whose
   id hash is odd (the generator's topic lexicon is mined from the even half; a profile built from
   the same poems would reward the lexicon, not the poem). A poem is scored against every
   candidate theme (DEV_THEMES + ACCEPTANCE_THEMES) by cosine similarity, with the characters of
   both the true theme and the candidate removed from both vectors, so no theme wins or loses by
   its characters being written: the generator favours theme characters until it writes one, and
   the question is whether the rest of the poem is about the theme. We report the percentile rank
   of the true theme (1.0 = first, 0.5 = chance) and top-1/top-5 accuracy, macro-averaged over
   themes. Ceiling: held-out (val+test) 近体 poems whose title contains the theme. Floor: random
   held-out 近体 poems assigned a theme at random.
   Themes inside one another (春 in 春雨, 秋 in 中秋): the true theme is the one the poem was
   written for (for a real poem, the theme it was drawn for: one titled 春雨 is drawn for both 春
   and 春雨). Candidates that contain the true theme or are contained in it are left out of that
   poem's ranking, and for a real poem so are candidates its title also names (a poem titled
   秋夜送别 drawn for 秋 is not wrong to look like 送别): ranking a right answer above the true
   theme is no error.
2. Line coherence: the mean smoothed PMI of content-character pairs taken from different lines,
   PMI(a, b) = log((n_ab + β) / (n_a n_b / N + β)) over document co-occurrence in train 近体 poems
   (β shrinks rare pairs towards 0 instead of letting two rare characters look associated).
   Ceiling: the held-out real poems; floor: frankenpoems of the same form whose every line comes
   from a different held-out poem, each in its own position. PMI alone rewards a poem made of
   landscape characters that go together everywhere (山 水 云 月) as much as one whose lines belong
   together, so we also report the lift: a set of poems' PMI minus that of frankenpoems made from
   their own lines. Real poems lose much of their PMI when their lines are swapped between poems;
   poems whose lines are interchangeable lose little.
3. Fluency and freshness: the share of adjacent in-line character pairs that train poems use at
   least MIN_ATTESTED times (徘娟 is not a word), and the share that are among the corpus's
   CLICHE_PAIRS commonest pairs (万里, 明月: fluent, but stale when most of a poem is made of them).

Statistics take about 15 s to gather from the corpus's 2.9M lines; they are cached (about 18 MB) in
corpus/yardsticks/, keyed by the corpus's summary.json, so a rebuilt corpus rebuilds them.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from engine.forms import JINTI_FORMS
from engine.text import GRAMMATICAL_CHARS

DEV_THEMES: tuple[str, ...] = (
    "月",
    "春",
    "秋",
    "山",
    "江",
    "雪",
    "梅",
    "柳",
    "酒",
    "雨",
    "西湖",
    "中秋",
    "羁旅",
    "长城",
    "送别",
    "思乡",
    "边塞",
    "重阳",
    "登高",
    "清明",
)
# Never developed on; only for acceptance runs. 江行 stands in for 渡江 (29 titled poems in the
# profile half), 访 for 访友 (7), 山寺 for 游寺 (7): too few to build a profile from.
ACCEPTANCE_THEMES: tuple[str, ...] = (
    "春雨",
    "秋夜",
    "冬日",
    "夏日",
    "晚晴",
    "早行",
    "江行",
    "夜泊",
    "山居",
    "田家",
    "访",
    "怀古",
    "落花",
    "牡丹",
    "菊",
    "竹",
    "松",
    "荷",
    "雁",
    "蝉",
    "舟中",
    "寄友",
    "除夕",
    "元日",
    "七夕",
    "寒食",
    "村居",
    "山寺",
    "观潮",
    "塞上",
    "闺怨",
    "咏史",
)
CANDIDATE_THEMES: tuple[str, ...] = DEV_THEMES + ACCEPTANCE_THEMES
THEME_SETS: dict[str, tuple[str, ...]] = {"dev": DEV_THEMES, "acceptance": ACCEPTANCE_THEMES}
FORMS: tuple[str, ...] = tuple(JINTI_FORMS)

VOCAB_SIZE = 6000
MIN_ATTESTED = 2
CLICHE_PAIRS = 500
PMI_PRIOR = 1.0
# Fewer titled train poems than this in the profile half make a profile too thin to trust.
MIN_PROFILE_POEMS = 30
# A theme needs this many titled held-out poems to have a ceiling; the theme rows are averaged
# over the themes that have one, so ours and the anchors cover the same themes.
MIN_CEILING_POEMS = 3
FLOOR_PER_THEME = 30
# Frankenpoems drawn per poem for the lift: our few poems make few, so several draws steady it.
FRANKEN_ROUNDS = 5
STATS_VERSION = 2
_PAIR_SHIFT = 21  # every code point fits in 21 bits, so a pair of them fits in one int64


def profile_half(poem_id: str) -> bool:
    """Whether a train poem may shape a theme profile (the lexicon uses the other half)."""
    return int(hashlib.sha1(poem_id.encode()).hexdigest(), 16) % 2 == 1


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _pair_keys(text: str) -> np.ndarray:
    """Keys of the adjacent pairs in text, not across its newlines."""
    codes = _codes(text).astype(np.int64)
    keys = (codes[:-1] << _PAIR_SHIFT) | codes[1:]
    return keys[(codes[:-1] != 10) & (codes[1:] != 10)]


def _found(table: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(whether each key is in the sorted table, its position there where it is)."""
    if not len(table):
        return np.zeros(len(keys), dtype=bool), np.zeros(len(keys), dtype=np.int64)
    keys = keys.astype(table.dtype, copy=False)  # else numpy casts the whole table up, on every call
    at = np.searchsorted(table, keys).clip(max=len(table) - 1)
    return table[at] == keys, at


def _pair_text(key: int) -> str:
    return chr(key >> _PAIR_SHIFT) + chr(key & ((1 << _PAIR_SHIFT) - 1))


@dataclass
class Stats:
    """Everything the yardsticks need from the corpus; see module docstring."""

    vocab: list[str]
    idf: np.ndarray  # float32 per vocab character
    doc_freq: np.ndarray  # int64: co-occurrence documents holding the character
    docs: int
    cooc_keys: np.ndarray  # int32 a * V + b (a < b), sorted
    cooc_counts: np.ndarray  # int32 documents holding both
    themes: list[str]
    mean: np.ndarray  # float32: the average unit tf-idf vector of the profile half
    profiles: np.ndarray  # float32 (themes, V): each theme's average unit vector minus `mean`
    profile_poems: list[int]
    pair_keys: np.ndarray  # int64 sorted keys of attested adjacent pairs
    cliches: frozenset[str]
    index: dict[str, int] = field(init=False, repr=False)
    theme_rows: dict[str, int] = field(init=False, repr=False)
    content: np.ndarray = field(init=False, repr=False)  # bool per vocab character

    def __post_init__(self) -> None:
        self.index = {char: i for i, char in enumerate(self.vocab)}
        self.theme_rows = {theme: i for i, theme in enumerate(self.themes)}
        self.content = np.array([char not in GRAMMATICAL_CHARS for char in self.vocab], dtype=bool)

    # -- theme --------------------------------------------------------------------------------

    def tfidf(self, lines: Sequence[str]) -> np.ndarray:
        vector = np.zeros(len(self.vocab), dtype=np.float32)
        for line in lines:
            for char in line:
                if (i := self.index.get(char)) is not None:
                    vector[i] += 1
        return vector * self.idf

    def theme_similarities(self, lines: Sequence[str], theme: str, candidates: Iterable[str]) -> dict[str, float]:
        """Cosine of the poem to each candidate's profile, without the theme's or candidate's characters.

        Both are taken as deviations from the average poem: otherwise broad themes (山, 春), whose
        profiles sit near the average, outrank narrow ones for any poem, and random poems given
        random themes ranked them at 0.68 instead of chance. The profiles were centred whole; masking
        a few characters afterwards differs from centring masked vectors by little."""
        poem = self.tfidf(lines)
        similarities = {}
        for candidate in candidates:
            masked = [self.index[c] for c in set(theme) | set(candidate) if c in self.index]
            left, mean, right = poem.copy(), self.mean.copy(), self.profiles[self.theme_rows[candidate]].copy()
            left[masked] = mean[masked] = right[masked] = 0
            length = np.linalg.norm(left)
            if not length:  # nothing left but the theme's characters: no evidence either way
                similarities[candidate] = 0.0
                continue
            left = left / length - mean
            norm = float(np.linalg.norm(left) * np.linalg.norm(right))
            similarities[candidate] = float(left @ right) / norm if norm else 0.0
        return similarities

    def theme_rank(
        self, lines: Sequence[str], theme: str, candidates: Sequence[str] = CANDIDATE_THEMES, title: str | None = None
    ) -> tuple[float, int]:
        """(rank of the true theme, 1 = first, ties counted half; candidates it was ranked among)."""
        others = [
            c for c in candidates if c != theme and c not in theme and theme not in c and not (title and c in title)
        ]
        similarities = self.theme_similarities(lines, theme, [theme, *others])
        mine = similarities[theme]
        above = sum(similarities[c] > mine for c in others)
        tied = sum(similarities[c] == mine for c in others)
        return 1 + above + tied / 2, len(others) + 1

    # -- coherence ----------------------------------------------------------------------------

    def coherence(self, lines: Sequence[str]) -> float | None:
        """Mean PMI of content-character pairs from different lines; None without such pairs."""
        ids, line_of = [], []
        for number, line in enumerate(lines):
            for char in line:
                i = self.index.get(char)
                if i is not None and self.content[i]:
                    ids.append(i)
                    line_of.append(number)
        ids_array, lines_array = np.array(ids, dtype=np.int64), np.array(line_of)
        first, second = np.nonzero(lines_array[:, None] < lines_array[None, :])
        a, b = ids_array[first], ids_array[second]
        keep = a != b
        a, b = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
        if not len(a):
            return None
        keys = a * len(self.vocab) + b
        found, at = _found(self.cooc_keys, keys)
        joint = np.where(found, self.cooc_counts[at] if len(self.cooc_counts) else 0, 0)
        expected = self.doc_freq[a] * self.doc_freq[b] / self.docs
        return float(np.mean(np.log((joint + PMI_PRIOR) / (expected + PMI_PRIOR))))

    # -- fluency ------------------------------------------------------------------------------

    def pair_shares(self, lines: Sequence[str]) -> tuple[float, float] | None:
        """(share of in-line adjacent pairs attested in train poems, share that are clichés)."""
        keys = _pair_keys("\n".join(lines))
        if not len(keys):
            return None
        attested, _ = _found(self.pair_keys, keys)
        cliche = sum(_pair_text(int(key)) in self.cliches for key in keys)
        return float(attested.mean()), cliche / len(keys)

    # -- cache --------------------------------------------------------------------------------

    def save(self, path: Path, key: str) -> None:
        arrays = {name: value for name, value in vars(self).items() if isinstance(value, np.ndarray)}
        arrays.pop("content")
        path.parent.mkdir(parents=True, exist_ok=True)
        # a name of its own: two evals started together on a fresh corpus both build the cache, and with one
        # shared partial file the first to finish moved it away from under the other
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f"{path.stem}.", suffix=".partial.npz")
        os.close(handle)
        partial = Path(name)
        np.savez_compressed(
            partial,
            key=np.array(key),
            vocab=np.array(self.vocab),
            docs=np.array(self.docs),
            themes=np.array(self.themes),
            profile_poems=np.array(self.profile_poems),
            cliches=np.array(sorted(self.cliches)),
            **arrays,  # type: ignore[arg-type]  # numpy's stub fears one of them is called allow_pickle
        )
        partial.replace(path)

    @classmethod
    def load(cls, path: Path, key: str) -> Stats | None:
        """The cached statistics, or None when they are missing or for another corpus."""
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["key"]) != key:
                    return None
                return cls(
                    vocab=[str(c) for c in data["vocab"]],
                    idf=data["idf"],
                    doc_freq=data["doc_freq"],
                    docs=int(data["docs"]),
                    cooc_keys=data["cooc_keys"],
                    cooc_counts=data["cooc_counts"],
                    themes=[str(t) for t in data["themes"]],
                    mean=data["mean"],
                    profiles=data["profiles"],
                    profile_poems=[int(n) for n in data["profile_poems"]],
                    pair_keys=data["pair_keys"],
                    cliches=frozenset(str(p) for p in data["cliches"]),
                )
        except (OSError, KeyError, ValueError):
            return None


def compute_stats(
    records: Iterable[dict],
    themes: Sequence[str] = CANDIDATE_THEMES,
    vocab_size: int = VOCAB_SIZE,
    progress: bool = True,
    total: int | None = None,
) -> Stats:
    """Gather the statistics from corpus records (poems.jsonl rows); only the train split counts."""
    texts: list[str] = []  # train 近体 poems, one line per row
    profile_docs: dict[int, list[int]] = {}  # texts index of a profile-half poem -> rows of the themes it names
    all_train: list[str] = []
    for record in tqdm(records, total=total, desc="yardsticks: reading", unit=" poems", disable=not progress):
        if record["split"] != "train":
            continue
        text = "\n".join(record["lines"])
        all_train.append(text)
        if record["form"] in JINTI_FORMS:
            if profile_half(record["id"]):
                profile_docs[len(texts)] = [row for row, theme in enumerate(themes) if theme in record["title"]]
            texts.append(text)

    pairs, pair_counts = np.unique(_pair_keys("\n".join(all_train)), return_counts=True)
    del all_train
    top = np.argsort(-pair_counts, kind="stable")[:CLICHE_PAIRS]
    cliches = frozenset(_pair_text(int(key)) for key in pairs[top])
    pair_keys = pairs[pair_counts >= MIN_ATTESTED]

    codes = _codes("\n".join(texts))
    chars, counts = np.unique(codes[codes != 10], return_counts=True)
    vocab_codes = np.sort(chars[np.argsort(-counts, kind="stable")[:vocab_size]])
    vocab = [chr(int(code)) for code in vocab_codes]
    size = len(vocab)
    ids = np.full(len(codes), -1, dtype=np.int64)  # newlines and rare characters stay -1
    known, at = _found(vocab_codes, codes)
    ids[known] = at[known]
    lengths = np.array([len(text) + 1 for text in texts])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    content = np.array([char not in GRAMMATICAL_CHARS for char in vocab], dtype=bool)

    doc_freq = np.zeros(size, dtype=np.int64)
    cooc = np.zeros(size * size, dtype=np.int32)
    pending: list[np.ndarray] = []
    upper = {k: np.triu_indices(k, 1) for k in range(2, 64)}
    for doc, (start, length) in enumerate(
        tqdm(list(zip(starts, lengths)), desc="yardsticks: co-occurrence", unit=" poems", disable=not progress)
    ):
        present = np.unique(ids[start : start + length - 1])
        present = present[present >= 0]
        doc_freq[present] += 1
        present = present[content[present]]
        if len(present) > 1:
            first, second = upper[len(present)] if len(present) in upper else np.triu_indices(len(present), 1)
            pending.append(present[first] * size + present[second])
        if len(pending) >= 20_000 or (doc == len(texts) - 1 and pending):
            cooc += np.bincount(np.concatenate(pending), minlength=size * size).astype(np.int32)
            pending = []
    cooc_keys = np.flatnonzero(cooc).astype(np.int32)  # V * V < 2**31
    cooc_counts = cooc[cooc_keys]
    del cooc

    docs = len(texts)
    idf = np.log((docs + 1) / (doc_freq + 1)).astype(np.float32)
    mean = np.zeros(size, dtype=np.float32)
    profiles = np.zeros((len(themes), size), dtype=np.float32)
    profile_poems = np.zeros(len(themes), dtype=np.int64)
    for doc, rows in tqdm(profile_docs.items(), desc="yardsticks: theme profiles", unit=" poems", disable=not progress):
        present = ids[starts[doc] : starts[doc] + lengths[doc] - 1]
        vector = np.bincount(present[present >= 0], minlength=size).astype(np.float32) * idf
        if norm := np.linalg.norm(vector):
            mean += vector / norm
            profiles[rows] += vector / norm
            profile_poems[rows] += 1
    mean /= max(len(profile_docs), 1)
    titled_themes = profile_poems > 0
    profiles[titled_themes] = profiles[titled_themes] / profile_poems[titled_themes, None] - mean
    return Stats(
        vocab=vocab,
        idf=idf,
        doc_freq=doc_freq,
        docs=docs,
        cooc_keys=cooc_keys,
        cooc_counts=cooc_counts,
        themes=list(themes),
        mean=mean,
        profiles=profiles,
        profile_poems=profile_poems.tolist(),
        pair_keys=pair_keys,
        cliches=cliches,
    )


def read_records(corpus: Path) -> Iterable[dict]:
    with (corpus / "poems.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def cache_key(corpus: Path) -> str:
    """Changes when the corpus is rebuilt, or when what the statistics mean changes."""
    recipe = json.dumps(
        [STATS_VERSION, VOCAB_SIZE, MIN_ATTESTED, CLICHE_PAIRS, GRAMMATICAL_CHARS, CANDIDATE_THEMES], ensure_ascii=False
    )
    summary = (corpus / "summary.json").read_bytes()
    return hashlib.sha1(summary + recipe.encode()).hexdigest()


def load_stats(corpus: Path, progress: bool = True) -> Stats:
    """The cached statistics of this corpus, computed when missing or stale."""
    path = corpus / "yardsticks" / "stats.npz"
    key = cache_key(corpus)
    stats = Stats.load(path, key)
    if stats is None:
        total = json.loads((corpus / "summary.json").read_text()).get("records")
        stats = compute_stats(read_records(corpus), progress=progress, total=total)
        stats.save(path, key)
    return stats


# ---------------------------------------------------------------------------------------------
# judging poems against the anchors


@dataclass(frozen=True)
class Judged:
    """A poem to judge: its lines, form, the theme it was written for and, for real poems, its title."""

    lines: tuple[str, ...]
    form: str
    theme: str | None
    title: str | None = None
    id: str | None = None


@dataclass
class PoemScores:
    rank: float | None = None
    candidates: int = 0
    coherence: float | None = None
    attested: float | None = None
    cliche: float | None = None

    @property
    def percentile(self) -> float | None:
        if self.rank is None or self.candidates < 2:
            return None
        return 1 - (self.rank - 1) / (self.candidates - 1)


def score(stats: Stats, poem: Judged, candidates: Sequence[str] = CANDIDATE_THEMES) -> PoemScores:
    scores = PoemScores(coherence=stats.coherence(poem.lines))
    if poem.theme is not None and poem.theme in candidates:
        scores.rank, scores.candidates = stats.theme_rank(poem.lines, poem.theme, candidates, poem.title)
    if (shares := stats.pair_shares(poem.lines)) is not None:
        scores.attested, scores.cliche = shares
    return scores


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


@dataclass
class Row:
    """One row of the table: theme columns macro-averaged over themes, the rest over forms."""

    poems: int = 0
    percentile: float | None = None
    top1: float | None = None
    top5: float | None = None
    coherence: float | None = None
    lift: float | None = None  # coherence minus that of frankenpoems of the same poems' lines
    attested: float | None = None
    cliche: float | None = None


def theme_means(scored: Sequence[tuple[Judged, PoemScores]]) -> dict[str, dict[str, float | None]]:
    """Per theme: poems, mean percentile, top-1 and top-5 accuracy."""
    by_theme: dict[str, list[tuple[float, PoemScores]]] = defaultdict(list)
    for poem, scores in scored:
        if poem.theme is not None and scores.rank is not None:
            by_theme[poem.theme].append((scores.rank, scores))
    return {
        theme: {
            "poems": len(group),
            "percentile": _mean(s.percentile for _, s in group),
            "top1": _mean(float(rank <= 1) for rank, _ in group),
            "top5": _mean(float(rank <= 5) for rank, _ in group),
        }
        for theme, group in by_theme.items()
    }


def summarize(scored: Sequence[tuple[Judged, PoemScores]], themes: Iterable[str] | None = None) -> Row:
    """The row for these poems; the theme columns average over `themes` (default: all they cover)."""
    per_theme = theme_means(scored)
    chosen = [t for t in (per_theme if themes is None else themes) if t in per_theme]
    by_form: dict[str, list[PoemScores]] = defaultdict(list)
    for poem, scores in scored:
        by_form[poem.form].append(scores)
    row = Row(poems=len(scored))
    row.percentile, row.top1, row.top5 = (
        _mean(per_theme[t][column] for t in chosen) for column in ("percentile", "top1", "top5")
    )
    row.coherence, row.attested, row.cliche = (
        _mean(_mean(getattr(s, column) for s in group) for group in by_form.values())
        for column in ("coherence", "attested", "cliche")
    )
    return row


def heldout(corpus: Path) -> list[Judged]:
    """The val and test 近体 poems."""
    return [
        Judged(tuple(r["lines"]), r["form"], None, r["title"], r["id"])
        for r in read_records(corpus)
        if r["split"] != "train" and r["form"] in JINTI_FORMS
    ]


def titled(poems: Iterable[Judged], themes: Iterable[str]) -> list[Judged]:
    """Each poem once for every theme its title contains."""
    return [
        Judged(p.lines, p.form, theme, p.title, p.id) for theme in themes for p in poems if p.title and theme in p.title
    ]


def frankenpoems(poems: Sequence[Judged], rng: random.Random) -> list[Judged]:
    """As many poems per form as given, each line from a different poem, each in its own position."""
    by_form: dict[str, list[Judged]] = defaultdict(list)
    for poem in poems:
        by_form[poem.form].append(poem)
    made = []
    for form, group in by_form.items():
        size = len(group[0].lines)
        if len(group) < size:
            continue
        for _ in group:
            donors = rng.sample(group, size)
            made.append(Judged(tuple(donor.lines[i] for i, donor in enumerate(donors)), form, None))
    return made


def coherence_lift(stats: Stats, poems: Sequence[Judged], rng: random.Random) -> float | None:
    """Per form, mean coherence of the poems minus that of frankenpoems of their lines; averaged over forms."""
    by_form: dict[str, list[Judged]] = defaultdict(list)
    for poem in poems:
        by_form[poem.form].append(poem)
    lifts = []
    for group in by_form.values():
        shuffled = [made for _ in range(FRANKEN_ROUNDS) for made in frankenpoems(group, rng)]
        own, swapped = (_mean(stats.coherence(p.lines) for p in poems) for poems in (group, shuffled))
        if own is not None and swapped is not None:
            lifts.append(own - swapped)
    return _mean(lifts)


def share(ours: float | None, floor: float | None, ceiling: float | None) -> float | None:
    """How far from floor to ceiling: 0 = floor, 1 = ceiling."""
    if ours is None or floor is None or ceiling is None or math.isclose(ceiling, floor):
        return None
    return (ours - floor) / (ceiling - floor)


@dataclass
class MeaningReport:
    themes: list[str]
    candidates: int
    compared_themes: list[str]  # those with a ceiling, over which the theme columns are averaged
    ours: Row
    real: Row
    floor: Row
    theme_share: float | None
    coherence_share: float | None
    lift_share: float | None  # ours' lift over real poems' lift
    per_theme: dict[str, dict]
    seconds: float

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)


def judge(stats: Stats, ours: Sequence[Judged], real: Sequence[Judged], seed: int = 0) -> MeaningReport:
    """Score our poems and the anchors drawn from the held-out real poems on the same themes."""
    started = time.monotonic()
    rng = random.Random(seed)
    themes = list(dict.fromkeys(p.theme for p in ours if p.theme in CANDIDATE_THEMES))
    ceiling_poems = titled(real, themes)
    floor_poems = [
        Judged(p.lines, p.form, theme, p.title, p.id)
        for theme in themes
        for p in rng.sample(list(real), min(FLOOR_PER_THEME, len(real)))
    ]
    distinct_real = list({p.id: p for p in ceiling_poems}.values())
    franken = frankenpoems(distinct_real, rng)

    def scored(poems: Sequence[Judged], desc: str) -> list[tuple[Judged, PoemScores]]:
        return [(p, score(stats, p)) for p in tqdm(poems, desc=f"yardsticks: {desc}", unit=" poems", leave=False)]

    ours_scored = scored(ours, "ours")
    ceiling_scored = scored(ceiling_poems, "held-out real")
    floor_scored = scored(floor_poems, "random-theme floor")
    franken_scored = scored(franken, "frankenpoems")

    ours_themes, ceiling_themes, floor_themes = (theme_means(s) for s in (ours_scored, ceiling_scored, floor_scored))
    compared = [t for t in themes if (ceiling_themes.get(t, {}).get("poems") or 0) >= MIN_CEILING_POEMS]
    ours_row = summarize(ours_scored, compared or None)
    # Coherence and pair shares of real poems count each poem once, whichever themes its title names.
    once = {p.id: s for p, s in ceiling_scored}
    theme_real = summarize([s for s in ceiling_scored if s[0].theme in compared], compared)
    real_row = replace(
        summarize([(p, once[p.id]) for p in distinct_real]),
        percentile=theme_real.percentile,
        top1=theme_real.top1,
        top5=theme_real.top5,
        lift=coherence_lift(stats, distinct_real, rng),
    )
    ours_row.lift = coherence_lift(stats, ours, rng)
    floor_row = summarize(floor_scored, compared)
    floor_row.coherence = summarize(franken_scored).coherence
    floor_row.attested = floor_row.cliche = None  # a frankenpoem's lines are real lines: nothing to learn

    per_theme = {
        theme: {
            "profile_poems": stats.profile_poems[stats.theme_rows[theme]],
            "ours": ours_themes.get(theme),
            "real": ceiling_themes.get(theme),
            "floor": floor_themes.get(theme),
        }
        for theme in themes
    }
    return MeaningReport(
        themes=themes,
        candidates=len(CANDIDATE_THEMES),
        compared_themes=compared,
        ours=ours_row,
        real=real_row,
        floor=floor_row,
        theme_share=share(ours_row.percentile, floor_row.percentile, real_row.percentile),
        coherence_share=share(ours_row.coherence, floor_row.coherence, real_row.coherence),
        lift_share=share(ours_row.lift, 0.0, real_row.lift),
        per_theme=per_theme,
        seconds=round(time.monotonic() - started, 1),
    )
