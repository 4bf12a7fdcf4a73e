"""The one API the rest of the world calls: compose, continue_line, match_couplet.

    poet = Poet(Path("engine/weights/default"))
    poem = await poet.compose("月", form="qijue")

compose samples `n_candidates` poems (by default 16 for a quatrain, 8 for a 律诗:
`default_candidates`) in one batch under hard constraints (engine.constraints),
drops candidates with a line copied verbatim from the corpus (engine.novelty) or with two
identical lines, and keeps the best by prosody score, length-normalised log-likelihood, the plan,
and the reader (engine.reader: a model of which poem readers choose).
The theme is conditioned on three ways: its characters are the prompt's keywords (as in
training), they get THEME_BOOST added to their logits until one of them is written, and the
ranking rewards a poem that has one.
"""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from math import inf
from pathlib import Path
from typing import cast

import torch
from transformers import PreTrainedTokenizerFast

from engine import prompts
from engine.backends import BackendUnavailable, LeanBackend, TransformersBackend, load_backend
from engine.batching import Batcher, Gatherer
from engine.constraints import LineConstraint, PoemConstraint, PoemPlan, VocabularyMasks, guarded_tone
from engine.forms import Form
from engine.lexicon import SHIPPED_LEXICON, Lexicon
from engine.novelty import CorpusLines, CorpusLinesError
from engine.planning import Plan, Planner
from engine.prosody import (
    OPPOSITE,
    PING,
    TonePattern,
    char_tone,
    check,
    check_couplet,
    tone_patterns,
)
from engine.reader import LineReader, Reader, poem_text, read
from engine.request import (
    AUTO_FORMS,
    MAX_KEYWORD_CHARS,
    WORD_STARTS,
    PoetError,
    allowed_forms,
    check_request_text,
    checked_candidates,
    checked_seed,
    han_text,
)
from engine.sampling import Row, SamplingParams
from engine.text import GRAMMATICAL_CHARS, strip_invisible, to_simplified
from engine.tokenizer import load_tokenizer

# The sampling temperature of a poem unless the request names one. Readers preferred 0.75 to 0.9 (quatrains 94 of
# 160, 律诗 95 of 160) and, for 律诗, 0.6 to 0.75 (94 of 160); quatrains were even between 0.6 and 0.75 (86 of 160)
# and 律诗 between 0.45 and 0.6 (78 of 160; bench/panels/2026-11-30-s21-*-temperature-*). At 0.6 the poems lean
# a little more on the corpus's commonest pairs (clichés 19% → 22% of a quatrain's pairs; real poems 7%).
TEMPERATURE = 0.6
MAX_THEME_WORD = 3  # a longer theme is favoured by its characters, not as one word
# Sixteen candidates ranked with the reader (engine.reader) against eight ranked without it: readers chose
# the sixteen's poem 183 of 320 times (z = +2.57; quatrains 100 to 60, 律诗 82 to 78;
# bench/panels/2026-11-28-reader-16); eight with the reader alone, 98 of 182 (…-reader).
CANDIDATES = 16  # a quatrain's
# A 律诗's: with today's readers and ranking, readers chose the poem of sixteen candidates over that of eight 166
# of 320 times (51.9%, z = +0.67; 七律 83 of 160; bench/panels/2026-11-30-s20-lushi-candidates, -b), and eight
# take the 七律 from about 0.6 s to within the 0.5 s the bot has (bench/engine.py). A 七律 had five from session 22
# to 26 (its time paid for its closing couplet rewritten from 0.07); with the faster engine of session 23 it has the
# 五律's eight again, rewritten from its middle couplets too and twice (LUSHI_REWRITES, below).
LUSHI_CANDIDATES = 8
# Under a burst of requests every row delays every answer (bench/bot.py: 20 at once, p99 within 3 s): the
# batcher cuts each request's candidates to its share of a batch, and never below this, so that twenty
# requests fit one batch of 64 rows.
MIN_CANDIDATES_UNDER_LOAD = 3
# Added to the logits of the theme's characters until one is written. The theme is the prompt's
# keywords, as in training, but the model alone wrote it into 35 of 58 poems; with 3.0 into 58 of 58,
# at no cost in mean log-likelihood (2.0 still missed rare themes such as 灯, 笛; bench/RESULTS.md).
THEME_BOOST = 3.0
# Added to the logits of a line's plan word's first character until the line holds the word (the
# sampler then completes it). Whole words against one character of them: readers preferred the
# poems 94 to 66 (bench/panels/2026-11-28-whole-words).
PLAN_BOOST = 1.5
# Per earlier occurrence of a character in the poem: repeated characters fell from 7.5% to 2.4% (real
# poems 2-3%), and readers preferred the poems 98 to 62 (bench/panels/2026-11-28-repeat-cost).
REPEAT_COST = 3.0
# Added, at every step, to the characters of the theme's words (a plan of the setting only, so a 律诗):
# readers were even (42 of 80 for it, bench/panels/2026-11-28-topic-boost) and the theme yardstick rose
# from 97% to 109% of the way to real poems.
TOPIC_BOOST = 1.0
# Subtracted, at every step, from the grammatical characters (engine.text.GRAMMATICAL_CHARS) of a poem
# written without plan words (a 律诗 as the bot asks for it). Such 律诗 held 11-12% of them against 8% in
# real poems, and the more of their lines held two, the lower readers scored them (Spearman +0.25 to +0.29
# in three panels). With 0.5 (6-7%), readers preferred the 律诗 139 of 240 times (57.9%, z = +2.45;
# bench/panels/2026-11-28-function-cost*); for planned quatrains, whose plan words already fill the lines,
# they preferred the poems without it (29 of 80 for the cost), so those are left alone.
FUNCTION_COST = 0.5
# A poem is planned line by line only when the user names keywords; from its theme alone it gets the setting
# (one season and time of day) and the theme's words to lean on where it likes. With the models of session 5,
# eight topic words made a 律诗 a list of scenes (readers preferred the unplanned 59 of 80 times) while
# quatrains were even (43 of 80; bench/panels/2026-11-28-plan-vs-none). With the model of session 18 readers
# chose the unplanned quatrain 108 of 160 times (z = +4.4; bench/panels/2026-11-30-s21-quatrain-setting, -b)
# and the unplanned 律诗 134 of 160 (…-s21-lushi-planned, -b). The limit stays a number of lines so that the
# panels' generators can plan quatrains (4) or all forms (8) again.
MAX_PLANNED_LINES = 0
# In the ranking, per nat of mean log-likelihood. Prosody is the same in nearly every candidate, so
# likelihood already decides among those that hold their plan and theme: 2.0 changed 2 of 80 choices.
LIKELIHOOD_WEIGHT = 0.5
PLAN_WEIGHT = 0.5  # in the ranking, for a poem whose every line holds its keyword
# In the ranking, for a poem written without plan words (a 律诗 as the bot asks for it) whose every line holds
# the theme or one of its words (Plan.topic; `on_topic`). Such 律诗 drift from their 题 after the first couplet,
# and "does it treat its 题" decided most of raters' pairs against real poems. With 2.0 the share of such
# lines rose from 17% to 22% and readers chose the poems it changed 113 of 184 times (61.4%, z = +3.10; 七律 65
# of 92, 五律 49 of 92; bench/panels/2026-11-29-s17-topic*, dev themes). Quatrains are written to their setting too
# since session 21, but for them the term stuffed the theme's words into every line (舟中 … 孤舟 … 扁舟): without
# it readers chose the quatrains 267 of 464 times (57.5%, z = +3.25; bench/panels/2026-11-30-s22-quatrain-topic-
# weight-0, -b), so it weighs only a 律诗's (without it 46 of 80 for the 律诗 it changed, z = +1.34, not kept).
TOPIC_WEIGHT = 2.0
# No MMI term in the ranking (log P(poem) − λ·log P(each line alone), Li et al. 2016): with λ 0.5 it
# changed the chosen poem in 18 of 80 slots, and readers preferred the poem without it in 27 of those
# 36 judgements (bench/panels/2026-11-28-mmi); it also cost a forward pass per request.
# In the ranking, per unit of the reader's score (engine.reader: a difference of 1 is a choice readers
# make 73% of the time). The reader reads the bare poem, blind to the theme and plan that readers see, so it
# must not drown the other terms: 0.5 against 1.0, readers chose 0.5's poem 141 of 232 times (z = +3.28);
# 3.0 against 1.0, 22 of 84 (bench/panels/2026-11-28-reader-weight-*).
READER_WEIGHT = 0.5
# In the ranking, per line a reader is expected to mark as failing (engine.reader's line reader). Against
# the same ranking without it, readers chose the poem of weight 2.0 225 of 378 times (59.5%, z = +3.70) and
# of 1.0 176 of 304 (57.9%, z = +2.75; bench/panels/2026-11-28-line-reader*).
LINE_READER_WEIGHT = 2.0
# In the ranking, per character that marks another season than the plan's (engine.planning.Plan.off_season):
# after lines that do not read, raters' commonest complaint is a poem of one season holding another's imagery
# ("summer frost"; 月 in spring with 霜 and 雪, 梅 in winter with 桃花). 28 of 400 dev poems of the shipped
# model held some, none with the term, at the same expected failing lines (0.51 a poem). Readers were even on
# the poems it changed: 76 of 142 for it (z = +0.84; bench/panels/2026-11-29-s17-season*, two models).
SEASON_CLASH_WEIGHT = 1.0
# In the ranking, per character that marks a time clashing with the one the theme names
# (engine.planning.Plan.off_time: 晓 in a poem on 春夜, 夕阳 in one on 晓行), raters' next complaint after the
# seasons. It changed 68 of 576 dev requests on themes naming a time; readers chose its poem 80 of 136 times
# (58.8%, z = +2.06; bench/panels/2026-11-30-s18-time).
TIME_CLASH_WEIGHT = 1.0
# A quatrain chosen is written again from its first line the line reader expects readers to mark (a chance
# above REWRITE_CHANCE) on, the lines before it kept, as many candidates as the first time, all ranked
# together (the poem as it was among them); at most REWRITES times. Readers chose the rewritten quatrains
# 107 of 158 times (七绝 74 to 28); 律诗 they were even (91 of 176, bench/panels/2026-11-28-rewrite), and a
# 律诗 is rewritten only from one of its last LUSHI_REWRITTEN_TAIL lines: its closing couplet rewritten,
# readers chose it 116 of 146 times (79.5%, z = +7.12; bench/panels/2026-11-28-rewrite-lushi-tail) — in the
# first panel rewrites from its lines 4-6 had lost 49 to 63 and from 7-8 won 18 to 4. No poem is rewritten
# while other requests' rows are in flight: 20 requests at once had p99 3.56 s with rewrites.
# A quatrain's lines before its last were rewritten from a chance of 0.2 in session 19: against 0.3, readers chose
# its poems 96 of 160 times in three panels (60.0%, z = +2.53; bench/panels/2026-11-30-s19-quatrain-rewrite-0.2*),
# deciding on lines that do not read and on occasions mixed (中秋 in a 重阳 poem). Written from their setting at
# temperature 0.6 (session 21) fewer lines pass these chances: 0.15 (and the last line 0.10, below) against 0.2
# (0.15) won 49 of 76 where the poems differed (64.5%, z = +2.52;
# bench/panels/2026-11-30-s21-quatrain-rewrite-lower, -b, -c, -d). Lower still, where the poems differed (session
# 22, four raters each, bench/panels/2026-11-30-s22-quatrain-rewrite-*): 0.10 (last line 0.07) against 0.15 (0.10)
# won 85 of 132 (z = +3.31), 0.07 (0.05) against 0.10 (0.07) 67 of 96 (z = +3.88), 0.05 (0.03) against 0.07 (0.05)
# 77 of 128 (z = +2.30), and 0.03 (0.02) against 0.05 (0.03) lost, 71 of 180 (z = −2.83). At 0.05 nine quatrains in
# ten are rewritten, most of them twice, most often from the last line; a third round (REWRITES 4) changed 25 of
# 80 and won 49 of 100. Sampling 32 candidates instead of 16 without the lower chances won 164 of 320.
# With the model of session 18 a 律诗 is rewritten from any of its last four lines: from its 颈联 (lines 5-6) at a
# chance of 0.10, as its closing couplet, readers chose it 85 of 132 times where the poems differed (z = +3.3;
# bench/panels/2026-11-30-s21-lushi-rewritten-tail-4*), but half the 七律 were rewritten and took 0.55-0.62 s,
# over the 0.5 s budget (six candidates to pay for it won nothing: 153 of 320, …-s21-lushi-tail-4-six). From
# a chance of 0.15 only the 颈联 lines likeliest to be marked are (9% of 律诗): 26 of 42 for it
# (…-s21-lushi-neck-0.15, generator there), the 七律's median 0.34-0.36 → 0.35-0.41 s. Session 27 opened the 颔联
# (lines 3-4) to rewrites from the same chance, with two rounds and eight candidates for a 七律 (five before): readers
# chose those 律诗 60.3% of the time over 126 pairs (z by pair +2.52; 七律 292 of 480; bench/panels/2026-12-01-s27-
# lushi-search, -s27-qilv-search-b), the median 七律 of bench/engine.py's themes 0.25 → 0.30 s (alternating).
REWRITES = 2
REWRITE_CHANCE = 0.05
LUSHI_REWRITTEN_TAIL = 6
LUSHI_MIDDLE_REWRITE_CHANCE = 0.15  # its lines before the closing couplet (颔联 and 颈联)
# The chance above which a line of a 律诗's closing couplet is rewritten: 0.15 against 0.3, readers chose its
# poems 213 of 332 times (64.2%, z = +5.16; bench/panels/2026-11-28-rewrite-lushi-chance); 0.10 against 0.15
# (eight candidates), 80 of 108 (74.1%, z = +5.0; bench/panels/2026-11-30-s20-lushi-rewrite-0.1, -0.1b; 40 of 70
# in session 19 with sixteen), with 42% of 律诗 rewritten instead of 15%. 0.07 against 0.10 won 104 of 152 where the
# poems differed (68.4%, z = +4.54; 五律 59 of 80, 七律 45 of 72; bench/panels/2026-11-30-s22-lushi-rewrite-0.07, -b);
# it rewrites the median 七律 (14 of 20 instead of 9).
LUSHI_REWRITE_CHANCE = 0.07
# Rounds for a 律诗: with sixteen candidates each cost about 0.13 s and two put the median 七律 of bench/engine.py
# at 0.503 s, over the budget's 0.5; with eight (about 0.1 s a round), two against one won 37 of 64 where they
# differed (z = +1.25; bench/panels/2026-11-30-s20-lushi-rewrites-2, -2b), within chance while only the last four
# lines could be rewritten. With the 颔联 open to rewrites (session 27, above) two rounds.
LUSHI_REWRITES = 2
# No rewrite for a request whose first candidates waited this long in the batcher's queue (a copied line
# excepted): the last requests of a burst, ranked after 2 s in the queue, were rewritten once it emptied and made
# the burst's p99 (bench/bot.py --users 20: 2.9-3.1 s with rewrites). The queue, not the clock: a request alone waits
# a few milliseconds however slow the machine, so a seed writes the same poem on any machine (session 22 first
# measured the time since compose began, and under CI's load a quatrain's second rewrite came after that second).
MAX_QUEUED_FOR_REWRITE_S = 0.25
# A quatrain's last line is rewritten from a lower chance than its others, as a 律诗's closing couplet is: readers
# chose those quatrains 201 of 334 times against 0.3 for every line (60.2%, z = +3.72;
# bench/panels/2026-11-28-rewrite-quatrain-ending*).
QUATRAIN_LAST_LINE_CHANCE = 0.03


def on_topic(lines: list[str], theme: str, plan: Plan | None) -> float:
    """The share of lines holding the theme or one of the theme's words, for a plan of the setting only."""
    if not plan or not plan.topic:
        return 0.0
    words = (theme, *plan.topic)
    return sum(any(word in line for word in words) for line in lines) / len(lines)


def plan_followed(lines: list[str], plan: Plan | None) -> float:
    """The share of lines that hold their plan word whole (白月 for 白云 is not the plan followed)."""
    if not plan or not plan.keywords:
        return 0.0
    return sum(keyword in line for line, keyword in zip(lines, plan.keywords)) / len(lines)


@dataclass
class Poem:
    lines: list[str]
    form: str
    rhyme_group: str | None
    report: dict  # engine.prosody.check(...).to_dict()
    scores: dict
    model_version: str
    params: dict
    seed: int
    relaxed: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return prompts.poem_body(self.lines)

    def to_dict(self) -> dict:
        return {**asdict(self), "text": self.text}


def default_candidates(form: Form) -> int:
    """How many candidates a poem of this form samples unless the request names a number."""
    if form.line_count <= 4:
        return CANDIDATES
    return LUSHI_CANDIDATES


def _seed(seed: int | None) -> int:
    """The request's seed, drawn when none is given."""
    return random.randrange(2**31) if seed is None else checked_seed(seed)


@dataclass(frozen=True)
class _Request:
    """A compose request that passed every check."""

    theme: str
    heads: str | None
    forms: list[Form]
    params: SamplingParams
    words: list[str]
    tone_mode: str
    user_keywords: tuple[str, ...]  # simplified, only characters the model knows
    opening: str | None = None  # the user's first line (起句), written as given
    opening_types: frozenset[str] = frozenset()  # the first-line types (engine.prosody) it can be
    theme_given: bool = True  # False: the theme is the first line's own word, and the line leads unplanned
    keywords_named: bool = False  # the user named keywords of their own (a 律诗 is planned only then)


@dataclass
class ServedModel:
    """One model as the poet serves it; swapping models replaces the whole of it at once."""

    path: Path
    version: str
    tokenizer: PreTrainedTokenizerFast
    masks: VocabularyMasks
    backend: LeanBackend | TransformersBackend
    batcher: Batcher
    planner: Planner | None  # None without a lexicon
    reads_plans: bool  # trained on prompts with a <plan> (engine.prompts)
    reader: Reader | None  # None when the folder has no reader fitted to these weights (engine.reader)
    line_reader: LineReader | None  # likewise


class ModelFolderError(Exception):
    """A model folder (or the corpus-lines filter the poet reads beside it) that is missing or does not
    load; the message says which, and what to do."""


def require_model_folder(model_dir: Path) -> None:
    """Refuse what is not a model folder before transformers sees it: from_pretrained takes a path
    that does not exist for the name of a model on a hub, and tries to download it."""
    missing = [name for name in ("config.json", "tokenizer.json") if not (model_dir / name).is_file()]
    if missing:
        raise ModelFolderError(
            f"{model_dir} is not a model folder (no {' or '.join(missing)}): point LIANJU_MODEL_DIR (or --model) "
            "at a folder `lianju train` made, such as engine/weights/default"
        )


def try_loading(model_dir: Path, backend: str = "auto") -> None:
    """Load the folder's tokenizer, model and readers as the poet would, and drop them; raises what a
    broken folder raises (a missing or corrupt config.json, weights, tokenizer.json or reader)."""
    require_model_folder(model_dir)
    load_tokenizer(model_dir)
    load_backend(model_dir, backend)
    Reader.load(model_dir)
    LineReader.load(model_dir)


class Poet:
    def __init__(
        self,
        model_dir: Path,
        backend: str = "auto",
        corpus_lines: Path | None = None,
        version: str | None = None,
        max_batch_rows: int = 64,
        lexicon: Path | None = SHIPPED_LEXICON,
    ):
        self.backend_kind = backend
        self.max_batch_rows = max_batch_rows
        try:
            self.corpus_lines = CorpusLines.load(corpus_lines) if corpus_lines and corpus_lines.is_file() else None
        except CorpusLinesError as error:
            raise ModelFolderError(f"{error}: set LIANJU_CORPUS_LINES to such a file, or leave it unset") from None
        self.lexicon = Lexicon.load(lexicon) if lexicon and lexicon.is_file() else None
        # Every torch call (loading, sampling, scoring) runs on this one thread. Each OS thread that
        # enters torch gets its own OpenMP team; two teams on two cores fight, and a 七律 measured
        # 0.42 s instead of 0.15 s once a second thread had touched torch.
        self.torch_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lianju-torch")
        self._readings = Gatherer(self._read, self.torch_thread)
        try:
            require_model_folder(Path(model_dir))
            self.model = self.torch_thread.submit(self._load, Path(model_dir), version or Path(model_dir).name).result()
        except BaseException as error:
            self.torch_thread.shutdown()
            if isinstance(error, Exception) and not isinstance(error, (BackendUnavailable, ModelFolderError)):
                # a damaged file: truncated weights, a reader.json cut short …
                raise ModelFolderError(
                    f"the model at {model_dir} does not load ({type(error).__name__}: {error}): restore the folder, "
                    "or point LIANJU_MODEL_DIR (or --model) at another"
                ) from error
            raise

    def _load(self, model_dir: Path, version: str) -> ServedModel:
        tokenizer = load_tokenizer(model_dir)
        backend = load_backend(model_dir, self.backend_kind)
        batcher = Batcher(backend, tokenizer.pad_token_id, self.torch_thread, max_rows=self.max_batch_rows)
        masks = VocabularyMasks(tokenizer)
        planner = Planner(self.lexicon, known={t for t in masks.ids if len(t) == 1}) if self.lexicon else None
        return ServedModel(
            model_dir,
            version,
            tokenizer,
            masks,
            backend,
            batcher,
            planner,
            reads_plans=prompts.PLAN in masks.ids,
            reader=Reader.load(model_dir),
            line_reader=LineReader.load(model_dir),
        )

    async def swap(self, model_dir: Path, version: str) -> None:
        """Serve another model from now on; requests already under way finish on the old one."""
        loop = asyncio.get_running_loop()
        loaded = await loop.run_in_executor(self.torch_thread, self._load, Path(model_dir), version)
        previous, self.model = self.model, loaded
        await previous.batcher.close()

    async def close(self) -> None:
        await self.model.batcher.close()
        self.torch_thread.shutdown(wait=True)

    # -----------------------------------------------------------------------------------------
    # compose

    async def compose(
        self,
        theme: str,
        form: str = "auto",
        acrostic: str | None = None,
        first_line: str | None = None,
        keywords: tuple[str, ...] = (),
        n_candidates: int | None = None,
        temperature: float | None = None,
        top_k: int = 40,
        top_p: float = 0.92,
        seed: int | None = None,
        tone_mode: str = "strict",
        theme_boost: float = THEME_BOOST,
        plan_boost: float = PLAN_BOOST,
        repeat_cost: float = REPEAT_COST,
        topic_boost: float = TOPIC_BOOST,
        function_cost: float = FUNCTION_COST,
    ) -> Poem:
        model = self.model
        request = self._request(
            model,
            theme,
            form=form,
            acrostic=acrostic,
            first_line=first_line,
            keywords=keywords,
            n_candidates=n_candidates,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            tone_mode=tone_mode,
            theme_boost=theme_boost,
            plan_boost=plan_boost,
            repeat_cost=repeat_cost,
            topic_boost=topic_boost,
            function_cost=function_cost,
        )
        seed = _seed(seed)
        rng = random.Random(seed)
        chosen = self._pick_form(request.forms, rng)
        if n_candidates is None:
            n_candidates = default_candidates(chosen)
        plan = self._plan(model, request, chosen, rng)
        planned_words = plan.keywords if plan else ()
        prompt = self._encode(
            model,
            prompts.poem_prompt(
                chosen.name, request.words, request.heads, planned_words if model.reads_plans else None
            ),
        )
        ids = model.masks.ids
        # A theme of one character (月) is favoured until written. One of several is carried by the plan's
        # words when there is a plan, else favoured as one word: favouring each of its characters wrote
        # 长城 as 长者 and 长夜, 西湖 as 西东. A long one (春江花月夜) is no word: any of its characters.
        theme_chars, theme_word = "", ()
        if len(request.theme) == 1:
            theme_chars = request.theme
        elif not planned_words and len(request.theme) <= MAX_THEME_WORD and all(c in ids for c in request.theme):
            theme_word = tuple(ids[c] for c in request.theme)
        elif not planned_words:
            theme_chars = request.theme
        theme_ids = tuple(ids[c] for c in dict.fromkeys(theme_chars) if c in ids)
        plan_ids = tuple(tuple(ids[c] for c in keyword if c in ids) for keyword in planned_words)
        topic_ids = tuple(ids[c] for c in dict.fromkeys("".join(plan.topic)) if c in ids) if plan else ()
        avoid = tuple(ids[c] for c in plan.avoided_seasons if c in ids) if plan else ()
        setting_only = plan is not None and not plan.keywords
        grammatical = tuple(ids[c] for c in GRAMMATICAL_CHARS if c in ids) if setting_only else ()

        def new_row(poem_plan: PoemPlan, row_seed: int) -> Row:
            return Row(
                prompt,
                PoemConstraint(model.masks, poem_plan),
                request.params,
                row_seed,
                theme=theme_ids,
                theme_word=theme_word,
                theme_word_until=chosen.line_count - 1,  # not pressed into the closing line (_theme_word_boost)
                topic=topic_ids,
                grammatical=grammatical,
                plan=plan_ids,
                line_ends=frozenset(model.masks.line_ends),
                avoid=avoid,
                word_starts=WORD_STARTS[chosen.chars_per_line],
            )

        poem_plans = [
            PoemPlan(
                chosen, self._pattern(chosen, rng, request.opening_types), tone_mode, request.heads, request.opening
            )
            for _ in range(n_candidates)
        ]
        rows = await model.batcher.run(
            [new_row(poem_plan, seed * 1000 + i) for i, poem_plan in enumerate(poem_plans)],
            least=MIN_CANDIDATES_UNDER_LOAD,
        )
        sampled = len(rows)
        del poem_plans[sampled:]  # the batcher's cut
        candidates = [self._lines(model, row) for row in rows]
        liked, failing = await self._read_all(model, candidates, chosen)
        poem = self._best_poem(model, rows, candidates, chosen, request, seed, plan, liked, failing)
        rewritten: list[int] = []
        thresholds = self._rewrite_thresholds(chosen, len(request.opening or "") // chosen.chars_per_line)
        for attempt in range(1, (REWRITES if chosen.line_count <= 4 else LUSHI_REWRITES) + 1):
            # the first line a reader would likely mark, of those that may be rewritten
            line_failing = poem.scores["failing_lines"]
            line = next((n for n, chance in enumerate(line_failing) if chance > thresholds[n]), None)
            # A line of a real poem is rewritten even while others wait: under a burst a request keeps as few as
            # three candidates, and one 五律 in 200 of bench/engine.py's had all of them copying (回首东山路).
            copied = next((n for n, text in enumerate(poem.lines) if text in poem.scores["copied_lines"]), None)
            if copied is not None:
                line = copied if line is None else min(line, copied)
            elif line is None or model.batcher.rows_in_flight or rows[0].queued_s > MAX_QUEUED_FOR_REWRITE_S:
                break  # nothing to mend, or other requests waiting or this one late: a rewrite must not delay them
            kept = replace(poem_plans[candidates.index(poem.lines)], opening="".join(poem.lines[:line]))
            more = [new_row(kept, seed * 1000 + 100 * attempt + i) for i in range(n_candidates)]
            more = await model.batcher.run(more, least=MIN_CANDIDATES_UNDER_LOAD)
            rows += more
            poem_plans += [kept] * len(more)
            candidates += [self._lines(model, row) for row in more]
            more_liked, more_failing = await self._read_all(model, candidates[-len(more) :], chosen)
            liked, failing = liked + more_liked, failing + more_failing
            poem = self._best_poem(model, rows, candidates, chosen, request, seed, plan, liked, failing)
            rewritten.append(line + 1)
        poem.scores["rewritten_from_lines"] = rewritten
        poem.params["n_candidates"] = sampled  # a round's, not the rounds' sum: the number that reproduces the poem
        return poem

    @staticmethod
    def _rewrite_thresholds(form: Form, given: int) -> list[float]:
        """Per line, the chance of being marked above which the poem is rewritten from it: never for the user's
        own first lines (`given`) nor a 律诗's lines before its last LUSHI_REWRITTEN_TAIL."""
        if form.line_count > 4:
            closing = min(2, LUSHI_REWRITTEN_TAIL)
            chances = (
                [inf] * (form.line_count - LUSHI_REWRITTEN_TAIL)
                + [LUSHI_MIDDLE_REWRITE_CHANCE] * (LUSHI_REWRITTEN_TAIL - closing)
                + [LUSHI_REWRITE_CHANCE] * closing
            )
        else:
            chances = [REWRITE_CHANCE] * (form.line_count - 1) + [QUATRAIN_LAST_LINE_CHANCE]
        return [inf] * given + chances[given:]

    async def _read_all(
        self, model: ServedModel, candidates: list[list[str]], form: Form
    ) -> tuple[list[float], list[list[float]]]:
        """`_read` on the torch thread, with the candidates of the other requests read meanwhile; without
        readers, no trip to it."""
        if model.reader is None and model.line_reader is None:
            return [0.0] * len(candidates), [[] for _ in candidates]
        return await self._readings.run((model, candidates, form))

    def _read(
        self, requests: list[tuple[ServedModel, list[list[str]], Form]]
    ) -> list[tuple[list[float], list[list[float]]]]:
        """For each request's candidates, how much readers would like each (engine.reader), and the chance
        they would mark each of its lines as failing (the line reader); 0 and none without the reader in
        question. The candidates of all requests served by one model go through it together."""
        answers: list[tuple[list[float], list[list[float]]]] = [([], []) for _ in requests]
        for model in {id(model): model for model, _, _ in requests}.values():
            mine = [index for index, (served, _, _) in enumerate(requests) if served is model]
            poems = [(lines, requests[index][2]) for index in mine for lines in requests[index][1]]
            ids = [self._encode(model, poem_text(lines, form.name)) for lines, form in poems]
            readings = read(model.backend, ids, [[len(line) for line in lines] for lines, _ in poems])
            liked = model.reader.scores(readings.poems) if model.reader else [0.0] * len(poems)
            failing = [
                model.line_reader.failing(lines).tolist() if model.line_reader else [] for lines in readings.lines
            ]
            start = 0
            for index in mine:
                end = start + len(requests[index][1])
                answers[index] = (liked[start:end], failing[start:end])
                start = end
        return answers

    def _lines(self, model: ServedModel, row: Row) -> list[str]:
        text = self._decode(model, row.tokens)
        return [line for line in text.replace("。", "，").split("，") if line]

    @staticmethod
    @torch.inference_mode()
    def _mean_log_likelihoods(model: ServedModel, prompt: list[int], answers: list[list[int]]) -> list[float]:
        """Mean log-likelihood per token of each answer (all of one length) after the prompt, in one batch."""
        ids = torch.tensor([prompt + answer for answer in answers])  # (answers, prompt + answer)
        logits = model.backend.all_logits(ids)[:, len(prompt) - 1 : -1].float()  # (answers, answer, vocab)
        chosen = torch.log_softmax(logits, -1).gather(-1, ids[:, len(prompt) :, None])[..., 0]  # (answers, answer)
        return chosen.mean(-1).tolist()

    def _plan(self, model: ServedModel, request: _Request, form: Form, rng: random.Random) -> Plan | None:
        """One keyword per line from the theme's topic words, the user's keywords first; None for a
        first line given alone, and only the setting and the theme's words when the user names no keywords
        (MAX_PLANNED_LINES)."""
        if model.planner is None or not request.theme_given:
            return None
        if form.line_count > MAX_PLANNED_LINES and not request.keywords_named:
            # no keywords, but one season: 6 of 40 unplanned 律诗 said 春 and 秋 (or 青春 and 秋风)
            return model.planner.setting_only(request.theme, form.line_count, rng)
        return model.planner.plan(request.theme, form.line_count, rng, user_keywords=request.user_keywords)

    def check_request(self, theme: str, **options) -> None:
        """Raise the PoetError `compose(theme, **options)` would raise, at once and without
        sampling: the bot answers bad input before it says "thinking…"."""
        self._request(self.model, theme, **options)

    def _request(
        self,
        model: ServedModel,
        theme: str,
        form: str = "auto",
        acrostic: str | None = None,
        first_line: str | None = None,
        keywords: tuple[str, ...] = (),
        n_candidates: int | None = None,
        temperature: float | None = None,
        top_k: int = 40,
        top_p: float = 0.92,
        tone_mode: str = "strict",
        theme_boost: float = THEME_BOOST,
        plan_boost: float = PLAN_BOOST,
        repeat_cost: float = REPEAT_COST,
        topic_boost: float = TOPIC_BOOST,
        function_cost: float = FUNCTION_COST,
    ) -> _Request:
        text = check_request_text(theme, form, acrostic, first_line, tone_mode)
        opening, heads = text.opening, text.heads
        if opening:
            self._known(model, opening, "起句", "first line")
        theme, theme_given = text.theme, True
        if opening and not theme:
            # The line says what the poem is about: its word is the title, and the poem follows the line
            # with no plan. Plans drawn from the line's words (白日依山尽 → 轩, 民, 庭; 朝辞白帝彩云间 →
            # 匆匆, 依然, 公孙) lost to no plan 29 to 51 (bench/panels/2026-11-28-first-line-plan-vs-none).
            theme, theme_given = self._opening_keyword(opening), False
        if heads:
            self._known(model, heads, "藏头", "acrostic")
        if n_candidates is not None:
            checked_candidates(n_candidates)
        try:
            params = SamplingParams(
                temperature=TEMPERATURE if temperature is None else temperature,
                top_k=top_k,
                top_p=top_p,
                theme_boost=theme_boost,
                plan_boost=plan_boost,
                repeat_cost=repeat_cost,
                topic_boost=topic_boost,
                function_cost=function_cost,
            )
        except (ValueError, TypeError) as error:
            raise PoetError("sampling", f"采样参数不合法（{error}）。", str(error)) from error
        if any(len(strip_invisible(word)) > MAX_KEYWORD_CHARS for word in keywords):
            raise PoetError(
                "keyword",
                f"关键词每个最多 {MAX_KEYWORD_CHARS} 个字。",
                f"A keyword has {MAX_KEYWORD_CHARS} characters at most.",
            )
        user_keywords = tuple(word for word in (self._known_part(model, k) for k in keywords) if word)
        keywords_named = bool(user_keywords)
        if opening:  # the plan's word for the first line is one the line holds
            user_keywords = (self._opening_keyword(opening), *user_keywords)
        return _Request(
            theme,
            heads,
            text.forms,
            params,
            self._keywords(model, theme, user_keywords),
            tone_mode,
            user_keywords,
            opening,
            text.opening_types,
            theme_given,
            keywords_named=keywords_named,
        )

    def _opening_keyword(self, opening: str) -> str:
        """The line's most telling word, as training prompts name each line's (engine.lexicon)."""
        return self.lexicon.line_keywords([opening])[0] if self.lexicon else opening[:2]

    def _pick_form(self, forms: list[Form], rng: random.Random) -> Form:
        if len(forms) == 1:
            return forms[0]
        return rng.choices(forms, weights=[AUTO_FORMS[f.name] for f in forms])[0]

    def _pattern(self, form: Form, rng: random.Random, opening_types: frozenset[str] = frozenset()) -> TonePattern:
        """A pattern for the form; one whose first line the user's first line fits, when there is one."""
        if opening_types:
            return rng.choice([p for p in tone_patterns(form) if p.line_types[0] in opening_types])
        # 七言 usually rhymes its first line, 五言 usually does not
        rhymed_share = 0.7 if form.chars_per_line == 7 else 0.3
        rhymed = rng.random() < rhymed_share
        choices = [p for p in tone_patterns(form) if p.rhymed_first == rhymed]
        return rng.choice(choices)

    def _known(self, model: ServedModel, chars: str, what_zh: str, what_en: str) -> None:
        unknown = [c for c in chars if c not in model.masks.ids]
        if unknown:
            shown = "".join(unknown)
            raise PoetError(
                "unknown_char",
                f"{what_zh}中的「{shown}」太生僻，模型不认识。",
                f"The model does not know 「{shown}」 in the {what_en}: too rare.",
            )

    def _keywords(self, model: ServedModel, theme: str, extra: tuple[str, ...]) -> list[str]:
        """The theme as training-style keywords: one character, one 2-character word, or up to 3 characters."""
        known = "".join(c for c in theme if c in model.masks.ids)
        if not known:
            self._known(model, theme, "主题", "theme")
        if len(known) <= 2:
            words = [known]
        else:
            words = list(dict.fromkeys(known))[:3]
        for word in extra:
            if word not in words and len(words) < 3:
                words.append(word)
        return words

    def _known_part(self, model: ServedModel, word: str) -> str:
        return "".join(c for c in to_simplified(strip_invisible(word)) if c in model.masks.ids)

    def _encode(self, model: ServedModel, text: str) -> list[int]:
        return model.tokenizer.encode(text, add_special_tokens=False)

    def _decode(self, model: ServedModel, tokens: list[int]) -> str:
        # decode's type also covers a batch in, a list of strings out; one sequence gives one string
        return cast(str, model.tokenizer.decode(tokens, skip_special_tokens=True))

    def _copied(self, lines: list[str]) -> list[str]:
        return [line for line in lines if self.corpus_lines is not None and line in self.corpus_lines]

    def _best_poem(
        self,
        model: ServedModel,
        rows: list[Row],
        candidates: list[list[str]],
        form: Form,
        request: _Request,
        seed: int,
        plan: Plan | None,
        liked: list[float],
        failing: list[list[float]],
    ) -> Poem:
        scored = []
        for row, lines, reader_score, line_failing in zip(rows, candidates, liked, failing):
            text = prompts.poem_body(lines)
            report = check(text, form)
            copied = [line for line in self._copied(lines) if line != request.opening]  # the user's own line
            repeated = len(set(lines)) < len(lines)
            whole = bool(plan and plan.keywords) or len(request.theme) <= MAX_THEME_WORD
            theme_in_poem = request.theme in text if whole else any(c in text for c in request.theme)
            planned = plan_followed(lines, plan)
            off_season = plan.off_season(lines, request.theme) if plan else ""
            off_time = plan.off_time(lines, request.theme) if plan else ""
            topical = on_topic(lines, request.theme, plan)
            prosody = report.tone_score + report.rhyme_ok + report.tone_ok_lenient + report.format_ok
            # the tones the request asked for: a poem that breaks them (an acrostic head where 孤平's guard
            # wanted a 平) loses to any that keeps them, whatever the readers would say of it
            tones_kept = {"strict": report.tone_ok, "lenient": report.tone_ok_lenient}.get(request.tone_mode, True)
            scans = bool(tones_kept and report.rhyme_ok and report.format_ok)
            total = (
                prosody
                + LIKELIHOOD_WEIGHT * row.mean_log_likelihood
                + 0.3 * theme_in_poem
                + PLAN_WEIGHT * planned
                + (TOPIC_WEIGHT * topical if form.line_count > 4 else 0.0)
                + READER_WEIGHT * reader_score
                - LINE_READER_WEIGHT * sum(line_failing)
                - SEASON_CLASH_WEIGHT * len(off_season)
                - TIME_CLASH_WEIGHT * len(off_time)
                - 10 * (bool(copied) or repeated)
            )
            scored.append(
                (
                    (scans, total),
                    row,
                    lines,
                    report,
                    {
                        "total": round(total, 4),
                        "prosody": round(prosody, 4),
                        "mean_log_likelihood": round(row.mean_log_likelihood, 4),
                        "theme_in_poem": theme_in_poem,
                        "plan_followed": round(planned, 4),
                        "on_topic": round(topical, 4),
                        "reader": round(reader_score, 4),
                        "failing_lines": [round(chance, 3) for chance in line_failing],
                        "off_season": off_season,
                        "off_time": off_time,
                        "copied_lines": copied,
                        "repeated_lines": repeated,
                        "novelty_checked": self.corpus_lines is not None,
                        "candidates": len(rows),
                    },
                )
            )
        _, row, lines, report, scores = max(scored, key=lambda item: item[0])
        return Poem(
            lines=lines,
            form=form.name,
            rhyme_group=report.rhyme_group,
            report=report.to_dict(),
            scores=scores,
            model_version=model.version,
            seed=seed,
            relaxed=row.constraint.relaxed,
            params={
                "theme": request.theme,
                "keywords": request.words,
                "acrostic": request.heads,
                "first_line": request.opening,
                "plan": plan.to_dict() if plan else None,
                "tone_mode": request.tone_mode,
                "n_candidates": len(rows),
                **asdict(request.params),
            },
        )

    # -----------------------------------------------------------------------------------------
    # one line at a time: 联句, 飞花令, 对对联

    async def continue_line(
        self,
        previous_lines: list[str],
        form: str,
        must_contain: str | None = None,
        seed: int | None = None,
        n_candidates: int = 4,
    ) -> str:
        """The next line of a poem in `form` that fits what is there: length, rhyme, 平仄, 粘对."""
        model = self.model
        chosen = self._pick_form(allowed_forms(form, None), random.Random(seed))
        previous = [han_text(line, "诗句", "line", 20) for line in previous_lines]
        if len(previous) >= chosen.line_count:
            raise PoetError("complete", "这首诗已经写完了。", "The poem is already complete.")
        wrong = [line for line in previous if len(line) != chosen.chars_per_line]
        if wrong:
            raise PoetError(
                "shape",
                f"{chosen.label_zh}每句 {chosen.chars_per_line} 字：「{wrong[0]}」不合。",
                f"Lines of a {chosen.label_en} have {chosen.chars_per_line} characters: 「{wrong[0]}」 does not.",
            )
        seed = _seed(seed)
        rng = random.Random(seed)
        pattern = self._fitting_pattern(chosen, previous, rng)
        plan = PoemPlan(chosen, pattern, "strict")
        index = len(previous)
        tones = []
        for position in range(chosen.chars_per_line):
            pattern_tone, guard = guarded_tone(plan, index, position)
            tones.append(pattern_tone or guard)
        rhyme = None
        rhymes_in_order = [previous[ln][-1] for ln in plan.rhyme_lines if ln < index]  # the first line's first
        used_rhymes = frozenset(rhymes_in_order)
        if index in plan.rhyme_lines:
            rhyme = model.masks.rhyme_mask_after([model.masks.ids[c] for c in rhymes_in_order if c in model.masks.ids])
        forced = {}
        if must_contain:
            char = han_text(must_contain, "指定字", "required character", 1)
            self._known(model, char, "指定字", "required character")
            forced = {self._slot_for(char, tones, rng): char}
        constraint_args = dict(tones=tones, forced=forced, banned=used_rhymes, rhyme=rhyme)
        prompt = self._encode(
            model,
            prompts.next_line_prompt(chosen.name, previous)
            if previous
            else prompts.poem_prompt(chosen.name, [must_contain] if must_contain else []),
        )
        return await self._best_line(model, prompt, constraint_args, seed, n_candidates, exclude=set(previous))

    def _fitting_pattern(self, form: Form, previous: list[str], rng: random.Random):
        if not previous:
            return self._pattern(form, rng)
        free = set(form.free_positions)

        def misses(pattern) -> int:
            return sum(
                not char_tone(char).can_be(pattern.lines[ln][pos])
                for ln, line in enumerate(previous)
                for pos, char in enumerate(line)
                if pos not in free
            )

        return min(tone_patterns(form), key=misses)

    def _slot_for(self, char: str, tones: list[str | None], rng: random.Random) -> int:
        """Where a required character goes: a slot whose tone it can take, not the rhyme slot."""
        fitting = [pos for pos, tone in enumerate(tones[:-1]) if tone is None or char_tone(char).can_be(tone)]
        return rng.choice(fitting or list(range(len(tones) - 1)))

    async def match_couplet(self, first_line: str, seed: int | None = None, n_candidates: int = 4) -> str:
        """A 下联 for a 上联: same length, 平收, opposite tones at the rhythm nodes, no shared position."""
        first = han_text(first_line, "上联", "first line", 11)
        if len(first) < 3:
            raise PoetError("too_short", "上联至少 3 个字。", "The first line needs at least 3 characters.")
        tones = []
        for position, char in enumerate(first):
            node = position % 2 == 1 or position == len(first) - 1
            tone = char_tone(char)
            tones.append(OPPOSITE[next(iter(tone.tones))] if node and len(tone.tones) == 1 else None)
        tones[-1] = PING
        constraint_args = dict(tones=tones, banned_at=dict(enumerate(first)))
        seed = _seed(seed)
        model = self.model
        prompt = self._encode(model, prompts.couplet_prompt(first))
        best = await self._best_line(
            model,
            prompt,
            constraint_args,
            seed,
            n_candidates,
            exclude={first},
            judge=lambda line: check_couplet(first, line).tone_score,
        )
        return best

    async def couplet_likelihood(self, first_line: str, second_line: str) -> float:
        """The model's mean log-likelihood per token of `second_line` (and <eos>) answering
        `first_line`: how natural the pair reads to it, around -2 (fluent) to -8 (odd)."""
        model = self.model
        first = han_text(first_line, "上联", "first line", 11)
        second = han_text(second_line, "下联", "second line", 11)
        prompt = self._encode(model, prompts.couplet_prompt(first))
        answer = self._encode(model, second + prompts.EOS)

        # on the sampler's own thread: the backend's cache is not for two threads at once
        scores = await asyncio.get_running_loop().run_in_executor(
            self.torch_thread, self._mean_log_likelihoods, model, prompt, [answer]
        )
        return scores[0]

    async def _best_line(
        self, model: ServedModel, prompt, constraint_args, seed, n_candidates, exclude, judge=None
    ) -> str:
        params = SamplingParams()
        rows = [
            Row(prompt, LineConstraint(model.masks, **constraint_args), params, seed * 1000 + i)
            for i in range(checked_candidates(n_candidates))
        ]
        rows = await model.batcher.run(rows)

        def score(row: Row) -> float:
            line = self._decode(model, row.tokens)
            penalty = 10 * (line in exclude or bool(self._copied([line])))
            return row.mean_log_likelihood + (judge(line) if judge else 0) - penalty

        best = max(rows, key=score)
        return self._decode(model, best.tokens)
