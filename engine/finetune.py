"""Learning from ratings: choose the poems people loved, fine-tune a candidate, and gate it.

1. `select` keeps poems with enough raters and a high Bayesian mean, where no single rater
   carries more than `user_cap` of all the rating weight; it drops poems that copy the corpus
   (an upvoted famous line is the obvious reward hack), poems that do not scan, and duplicates.
   Poems whose (weighted) mean is 2 stars or less are kept apart as negatives for a later
   preference method.
2. `finetune` trains the active model on the feedback mixed with at least `corpus_ratio` times as
   many original corpus poems (the corpus is never replaced), at a small learning rate: every weight
   for the small model, LoRA adapters (peft) or QLoRA (4-bit bitsandbytes, GPU) for bigger ones.
3. `run_gates` compares candidate and active model on the frozen held-out set: held-out NLL,
   unconstrained shape validity, distinct-2, copy rate, and the NLL of the feedback itself.
   Only a candidate that passes every gate may become active.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Container
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import AutoModelForCausalLM

from engine import prompts
from engine.evaluate import HELDOUT_IDS, form_quality, heldout_records, poems_nll, sample_poems
from engine.extras import require_extra
from engine.forms import JINTI_FORMS
from engine.lexicon import Lexicon
from engine.model_card import finish_model_folder
from engine.prosody import check
from engine.reader import carry_over
from engine.tokenizer import load_tokenizer
from engine.train import (
    TrainConfig,
    collate,
    length_batches,
    load_lexicon,
    make_optimizer,
    pick_device,
    read_jsonl,
    tokenize,
)


@dataclass(frozen=True)
class RatedPoem:
    id: int
    lines: list[str]
    form: str
    title: str  # the theme it was written for
    ratings: dict[int, int]  # rater id → stars (1-5)


@dataclass
class Selection:
    positives: list[RatedPoem] = field(default_factory=list)
    negatives: list[RatedPoem] = field(default_factory=list)  # rated <= 2, kept for later
    dropped: Counter = field(default_factory=Counter)

    def counts(self) -> dict[str, int]:
        return {
            "positives": len(self.positives),
            "negatives": len(self.negatives),
            **{f"dropped_{reason}": n for reason, n in self.dropped.items()},
        }


def select(
    poems: list[RatedPoem],
    corpus_lines: Container[str] | None,
    min_votes: int = 3,
    min_mean: float = 4.0,
    prior_mean: float = 3.0,
    prior_votes: float = 5.0,
    user_cap: float = 0.2,
    negative_max: float = 2.0,
) -> Selection:
    """The feedback worth learning from (see the module docstring)."""
    ratings_per_user = Counter(user for poem in poems for user in poem.ratings)
    total = sum(ratings_per_user.values())
    # A rater with more than user_cap of all ratings has each rating count for less, so that
    # together they weigh user_cap of the total (plus the prior).
    weight = {user: min(1.0, user_cap * total / count) for user, count in ratings_per_user.items()}
    selection, seen = Selection(), set()
    for poem in poems:
        text = prompts.poem_body(poem.lines)
        if len(poem.ratings) < min_votes:
            selection.dropped["too_few_votes"] += 1
            continue
        weights = sum(weight[u] for u in poem.ratings)
        stars = sum(weight[u] * s for u, s in poem.ratings.items())
        if stars / weights <= negative_max:
            selection.negatives.append(poem)
            continue
        if (prior_mean * prior_votes + stars) / (prior_votes + weights) < min_mean:
            selection.dropped["rating_below_threshold"] += 1
        elif text in seen:
            selection.dropped["duplicate"] += 1
        elif not check(text, poem.form).format_ok:
            selection.dropped["not_a_regulated_poem"] += 1
        elif corpus_lines is not None and any(line in corpus_lines for line in poem.lines):
            selection.dropped["copies_the_corpus"] += 1
        else:
            selection.positives.append(poem)
            seen.add(text)
    return selection


def feedback_examples(poems: list[RatedPoem], rng: random.Random, lexicon: Lexicon) -> list[tuple[str, str]]:
    return [
        example
        for poem in poems
        for example in prompts.training_examples(
            {"lines": poem.lines, "form": poem.form, "title": poem.title}, rng, lexicon
        )
    ]


def training_mix(feedback: list[RatedPoem], corpus: Path, corpus_ratio: int, rng: random.Random):
    """Feedback examples plus `corpus_ratio` times as many examples of original corpus poems."""
    records = read_jsonl(corpus / "poems.jsonl")
    lexicon = load_lexicon(corpus, records)
    examples = feedback_examples(feedback, rng, lexicon)
    originals = [r for r in records if r["form"] in JINTI_FORMS and r["split"] == "train"]
    chosen = rng.sample(originals, k=min(len(originals), corpus_ratio * len(feedback)))
    examples += [e for record in chosen for e in prompts.training_examples(record, rng, lexicon)]
    rng.shuffle(examples)
    return examples, len(chosen)


METHODS = ("full", "lora", "qlora")


def _trainable(base: Path, method: str, device: torch.device):
    """The model to train: every weight (full), low-rank adapters on every linear layer (lora), or
    adapters over a 4-bit base (qlora, bitsandbytes on a GPU only)."""
    if method not in METHODS:
        raise ValueError(f"unknown fine-tune method {method!r}; use one of: {', '.join(METHODS)}")
    if method == "full":
        return AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).to(device)  # type: ignore[arg-type]  # transformers types to() through functools.wraps, unbound
    peft = require_extra("peft", "train", f"the {method} fine-tune")
    adapters = peft.LoraConfig(
        r=16,
        lora_alpha=32,
        lora_dropout=0.05,
        task_type="CAUSAL_LM",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    )
    if method == "lora":
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).to(device)  # type: ignore[arg-type]  # transformers types to() through functools.wraps, unbound
        return peft.get_peft_model(model, adapters)
    if device.type != "cuda":
        raise ValueError("qlora needs a CUDA GPU (bitsandbytes 4-bit weights); use full or lora on this host")
    for module in ("bitsandbytes", "accelerate"):
        require_extra(module, "cuda", "the qlora fine-tune")
    from transformers import BitsAndBytesConfig

    quantized = AutoModelForCausalLM.from_pretrained(
        base,
        device_map="cuda",
        quantization_config=BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
        ),
    )
    return peft.get_peft_model(peft.prepare_model_for_kbit_training(quantized), adapters)


def _merged(model, base: Path, method: str, scratch: Path):
    """A plain model again: adapters folded into the weights (for qlora, into a bf16 copy of the base)."""
    if method == "full":
        return model
    if method == "lora":
        return model.merge_and_unload()
    from peft import PeftModel

    model.save_pretrained(scratch)
    full = AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16)
    return PeftModel.from_pretrained(full, scratch).merge_and_unload()


def finetune(
    base: Path,
    out: Path,
    feedback: list[RatedPoem],
    corpus: Path,
    epochs: int = 2,
    lr: float = 1e-4,
    batch_size: int = 32,
    corpus_ratio: int = 3,
    seed: int = 0,
    method: str = "full",
    progress: bool = True,
) -> dict:
    """Supervised fine-tuning of `base` into `out` (a from_pretrained folder); returns data counts."""
    if not feedback:
        raise ValueError("no rated poems to learn from")
    rng = random.Random(seed)
    torch.manual_seed(seed)
    device = pick_device()
    tokenizer = load_tokenizer(base)
    model = _trainable(base, method, device).train()
    examples, originals = training_mix(feedback, corpus, corpus_ratio, rng)
    items = tokenize(tokenizer, examples)
    optimizer = make_optimizer(model, TrainConfig(corpus=corpus, out=out, lr=lr))
    steps = 0
    for _ in range(epochs):
        batches = length_batches([len(ids) for ids, _ in items], batch_size, rng)
        for index in tqdm(batches, desc="fine-tuning", disable=not progress):
            batch = {k: v.to(device) for k, v in collate([items[i] for i in index], tokenizer.pad_token_id).items()}
            model(**batch).loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            steps += 1
    out.mkdir(parents=True, exist_ok=True)
    _merged(model, base, method, out / "adapters").to(torch.bfloat16).save_pretrained(out)
    tokenizer.save_pretrained(out)
    carry_over(base, out)
    finish_model_folder(
        out,
        {
            "summary": f"A fine-tune of the Lianju poetry model `{base}` on poems that people rated highly, mixed with "
            "poems of the original corpus so that it keeps what it knew.",
            "training": {
                "fine-tuning": f"{method}: {epochs} epochs, {steps:,} steps of batch {batch_size}, lr {lr:g}; "
                f"{len(feedback):,} rated poems and {originals:,} corpus poems "
                f"({len(examples):,} examples)"
            },
        },
    )
    return {
        "feedback_poems": len(feedback),
        "corpus_poems": originals,
        "examples": len(examples),
        "steps": steps,
        "method": method,
    }


# ---------------------------------------------------------------------------------------------
# Gates


@dataclass(frozen=True)
class Gate:
    name: str
    candidate: float
    active: float
    limit: float  # the candidate's value must be <= limit (or >= for the "not lower" gates)
    higher_is_better: bool

    @property
    def passed(self) -> bool:
        return self.candidate >= self.limit if self.higher_is_better else self.candidate <= self.limit


@dataclass
class GateReport:
    gates: list[Gate]

    @property
    def passed(self) -> bool:
        return all(gate.passed for gate in self.gates)

    def to_dict(self) -> dict:
        return {"passed": self.passed, **{g.name: {**asdict(g), "passed": g.passed} for g in self.gates}}


def _measure(
    model_dir: Path, records: list[dict], feedback: list[RatedPoem], samples: int, corpus_lines: Container[str] | None
) -> dict[str, float]:
    device = pick_device()
    tokenizer = load_tokenizer(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to(device).eval()  # type: ignore[arg-type]  # transformers types to() through functools.wraps, unbound
    qualities = [
        form_quality(sample_poems(model, tokenizer, form, samples, seed=0), form, corpus_lines) for form in JINTI_FORMS
    ]
    return {
        "heldout_nll": poems_nll(model, tokenizer, [(r["form"], r["lines"]) for r in records], device, False) or 0.0,
        "feedback_nll": poems_nll(model, tokenizer, [(p.form, p.lines) for p in feedback], device, False) or 0.0,
        "shape_ok": sum(q.shape_ok for q in qualities) / len(qualities),
        "distinct_2": sum(q.distinct_2 for q in qualities) / len(qualities),
        "copy_rate": sum(q.copied_lines for q in qualities) / len(qualities),
    }


def run_gates(
    active: Path,
    candidate: Path,
    corpus: Path,
    feedback: list[RatedPoem],
    samples: int = 50,
    ids_path: Path = HELDOUT_IDS,
    corpus_lines: Container[str] | None = None,
    nll_tolerance: float = 0.015,
    sampling_tolerance: float = 0.02,
) -> GateReport:
    """The promotion gates. Shape validity and copy rate come from samples, so they get
    `sampling_tolerance` (two points) of slack for sampling noise; the NLLs are exact."""
    records, _ = heldout_records(corpus, ids_path)  # read once: poems.jsonl is large
    before = _measure(active, records, feedback, samples, corpus_lines)
    after = _measure(candidate, records, feedback, samples, corpus_lines)
    return GateReport(
        [
            Gate(
                "heldout_nll",
                after["heldout_nll"],
                before["heldout_nll"],
                before["heldout_nll"] * (1 + nll_tolerance),
                False,
            ),
            Gate("shape_ok", after["shape_ok"], before["shape_ok"], before["shape_ok"] - sampling_tolerance, True),
            Gate("distinct_2", after["distinct_2"], before["distinct_2"], before["distinct_2"] * 0.9, True),
            Gate("copy_rate", after["copy_rate"], before["copy_rate"], before["copy_rate"] + sampling_tolerance, False),
            Gate("feedback_nll", after["feedback_nll"], before["feedback_nll"], before["feedback_nll"] - 1e-6, False),
        ]
    )
