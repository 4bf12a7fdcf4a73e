"""Aligning the model to readers' marks: the lines readers mark as failing made less likely, the lines they pass
more likely, so that every candidate is better before one is chosen.

Readers mark the lines of our poems that fail (not grammatical, idiomatic classical Chinese, or making no sense
where they stand; bench/line_sheets.py). The line reader (engine.reader) learns to spot such lines among
candidates; this teaches the model itself not to write them. The loss is KTO's (Ethayarajh et al. 2024): unpaired
examples, each a completion judged desirable or not, pulled up or pushed down against a frozen reference model
(the base), each pull saturating in a sigmoid so no line is driven to nothing. An example is one line given its
poem's prompt and the lines before it, as generation writes it: the gradient reaches the characters that led a
line into a rhyme it could not make, not only the forced character itself. Batches of corpus poems in the
training format keep the model on the language it knew (held-out NLL is the check).

Written here rather than with trl's KTOTrainer: the examples are token ids cut from poems at line boundaries, the
reference's log-probabilities are computed once up front, the model is trained in this repository's own loop
(engine.train's batches and optimiser) — the loss itself is three lines.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import AutoModelForCausalLM

from engine import prompts
from engine.evaluate import heldout_of, poems_nll
from engine.forms import JINTI_FORMS, form_for_shape
from engine.model_card import FACTS, finish_model_folder
from engine.reader import carry_over
from engine.tokenizer import load_tokenizer
from engine.train import TrainConfig, collate, jinti_records, load_lexicon, make_optimizer, pick_device, tokenize

# A line marked by at least this share of its readers (one of two) is one to avoid; a line no reader marked is one
# to write. Lines between (one reader of three) teach nothing either way and are left out.
FAILING_SHARE = 0.5


@dataclass(frozen=True)
class MarkedPoem:
    theme: str
    form: str
    lines: list[str]
    failing: list[float]  # per line, the share of its readers who marked it as failing


@dataclass(frozen=True)
class AlignConfig:
    # 200 steps of 64 lines at 1e-5 (bench/panels/2026-11-29-line-kto-200): held-out NLL +0.018, failing lines of
    # held-out sheets 0.57 nats less likely against +0.22 for those readers passed; readers chose its poems 178 of
    # 320 times over the base's. At 3e-5, 40 steps did as much to the held-out lines at +0.034 NLL.
    steps: int = 200
    lr: float = 1e-5
    batch_size: int = 64  # lines per step
    corpus_batch_size: int = 64  # corpus poems per step, at their usual loss
    beta: float = 1.0  # per nat of log-ratio: a line's pull saturates a few nats from the reference
    seed: int = 0


def read_marks(path: Path) -> list[MarkedPoem]:
    """Marked poems from a JSONL file, one {"theme", "form", "lines", "failing"} object per line; a ValueError
    naming the line for anything else."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read {path} as UTF-8 text: {error}") from None
    poems = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
            poem = MarkedPoem(str(data["theme"]), str(data["form"]), list(data["lines"]), list(data["failing"]))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(
                f"{path}:{number}: not a marked poem ({error!r}); each line needs theme, form, lines, failing"
            ) from None
        shape = form_for_shape([len(line) if isinstance(line, str) else 0 for line in poem.lines])
        if shape is None or shape.name != poem.form:
            raise ValueError(f"{path}:{number}: its lines are not a {poem.form} (forms: {', '.join(JINTI_FORMS)})")
        if len(poem.failing) != len(poem.lines) or not all(
            isinstance(share, (int, float)) and 0 <= share <= 1 for share in poem.failing
        ):
            raise ValueError(f"{path}:{number}: failing needs one share from 0 to 1 per line")
        poems.append(poem)
    if not poems:
        raise ValueError(f"{path} holds no marked poems")
    return poems


def line_examples(poems: list[MarkedPoem]) -> list[tuple[str, str, bool]]:
    """(prompt, line, desirable) for every line readers agreed on: passed by all, or failed by FAILING_SHARE.
    A line that rhymes (the second of a couplet) is learnt without its rhyme character and mark: generation does
    not sample that character from the model's distribution but from the rhyme group's, so only its rank among
    the group's characters matters there; counted whole, the failed lines taught the model to stop rhyming
    (unconstrained rhyme 68-77% → 20-53%, real poems' rhyme characters 0.15 nats less likely)."""
    examples = []
    for poem in poems:
        for number, share in enumerate(poem.failing):
            if share == 0 or share >= FAILING_SHARE:
                prompt, line = prompts.line_in_poem(poem.form, poem.theme, poem.lines, number)
                rhymes = number % 2 == 1
                examples.append((prompt, poem.lines[number][:-1] if rhymes else line, share == 0))
    return examples


def kto_loss(log_ratios: torch.Tensor, desirable: torch.Tensor, beta: float, undesirable_weight: float) -> torch.Tensor:
    """KTO with its reference point at 0: (N,) log π(line)/π_ref(line) and (N,) bools → the mean loss."""
    pulled = torch.where(desirable, beta * log_ratios, -beta * log_ratios)  # (N,): how far each went its way
    weights = torch.where(desirable, 1.0, undesirable_weight)  # (N,)
    return (weights * (1 - torch.sigmoid(pulled))).mean()


def completion_log_probs(model, items: list[tuple[list[int], int]], pad_id: int, device) -> torch.Tensor:
    """(N,) the summed log-probability of each item's completion (its tokens after the prompt's length)."""
    batch = {name: value.to(device) for name, value in collate(items, pad_id).items()}
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()  # (N, T, V)
    targets = batch["labels"][:, 1:]  # (N, T-1): -100 on the prompt and the padding
    chosen = torch.log_softmax(logits[:, :-1], -1).gather(-1, targets.clamp(min=0)[..., None])[..., 0]  # (N, T-1)
    return (chosen * (targets != -100)).sum(1)  # (N,)


@torch.no_grad()
def all_completion_log_probs(
    model, items: list[tuple[list[int], int]], pad_id: int, device, progress: bool = False
) -> torch.Tensor:
    """completion_log_probs of any number of items, 256 at a time, without gradients."""
    chunks = [
        completion_log_probs(model, items[start : start + 256], pad_id, device)
        for start in tqdm(range(0, len(items), 256), desc="reading lines", disable=not progress)
    ]
    return torch.cat(chunks)  # (N,)


def align(
    base: Path, out: Path, marks: list[MarkedPoem], corpus: Path, config: AlignConfig = AlignConfig(), progress=True
) -> dict:
    """Train `base` on the marked lines (KTO) and corpus poems into `out`, a model folder carrying the base's
    readers (engine.reader.carry_over; refit them on the new weights for the best ranking). Returns what it did."""
    examples = line_examples(marks)
    desirable = [wanted for _, _, wanted in examples]
    if all(desirable) or not any(desirable):
        raise ValueError("the marks need lines readers passed and lines they failed, to learn which is which")
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    device = pick_device()
    tokenizer = load_tokenizer(base)
    items = tokenize(tokenizer, [(prompt, line) for prompt, line, _ in examples])
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).to(device)  # type: ignore[arg-type]  # transformers types to() through functools.wraps, unbound

    # the reference: the base's log-probability of every line, once
    model.eval()
    # in the precision the steps run in, so that a line the model has not moved has a log-ratio of exactly 0
    with torch.autocast(device.type, dtype=torch.bfloat16):
        reference = all_completion_log_probs(model, items, tokenizer.pad_token_id, device, progress)  # (N,)
    poems_read = jinti_records(corpus)  # once: it is large
    held_out = [(r["form"], r["lines"]) for r in heldout_of(poems_read)[0]]
    nll_before = poems_nll(model, tokenizer, held_out, device, False)

    # corpus poems in the training format (plans, keywords, acrostics), for the usual next-token loss
    records = [r for r in poems_read if r["split"] == "train"]
    if not records:
        raise ValueError(f"{corpus} holds no 近体 poems in its train split to keep the model on the language")
    lexicon = load_lexicon(corpus, records)
    wanted = torch.tensor(desirable)  # (N,)
    # the rarer kind weighs as much in all as the commoner one (KTO's balance of λ_D n_D and λ_U n_U)
    undesirable_weight = float(wanted.sum() / (~wanted).sum())
    optimizer = make_optimizer(model, TrainConfig(corpus=corpus, out=out, lr=config.lr, weight_decay=0.0))
    model.train()
    for _ in tqdm(range(config.steps), desc="aligning", disable=not progress):
        # a batch of marked lines: how far the model has moved each from the reference
        picked = rng.sample(range(len(items)), min(config.batch_size, len(items)))
        with torch.autocast(device.type, dtype=torch.bfloat16):
            log_probs = completion_log_probs(model, [items[i] for i in picked], tokenizer.pad_token_id, device)
        loss = kto_loss(log_probs - reference[picked], wanted[picked], config.beta, undesirable_weight)
        # a batch of corpus poems, to stay on the language
        poems = [
            ex
            for record in rng.sample(records, min(config.corpus_batch_size, len(records)))
            for ex in prompts.training_examples(record, rng, lexicon)
        ]
        batch = {k: v.to(device) for k, v in collate(tokenize(tokenizer, poems), tokenizer.pad_token_id).items()}
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = loss + model(**batch).loss
        # one update for both
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    model.eval()
    nll_after = poems_nll(model, tokenizer, held_out, device, False)
    out.mkdir(parents=True, exist_ok=True)
    model.to(torch.bfloat16).save_pretrained(out)
    tokenizer.save_pretrained(out)
    if (base / FACTS).is_file():
        shutil.copy(base / FACTS, out / FACTS)  # the base's history, which this run's line extends
    carry_over(base, out)
    summary = {
        "marked_poems": len(marks),
        "lines_passed": int(wanted.sum()),
        "lines_failed": int((~wanted).sum()),
        "heldout_nll_before": round(nll_before or 0.0, 4),
        "heldout_nll_after": round(nll_after or 0.0, 4),
        **asdict(config),
    }
    finish_model_folder(
        out,
        {
            "training": {
                "alignment": f"aligned to readers' marks (`lianju align`, engine/preference.py, KTO): "
                f"{config.steps} steps of {config.batch_size} lines and {config.corpus_batch_size} corpus poems, "
                f"lr {config.lr:g}, β {config.beta:g}; {summary['lines_passed']:,} lines readers passed and "
                f"{summary['lines_failed']:,} they failed, of {len(marks):,} poems; held-out NLL "
                f"{summary['heldout_nll_before']} → {summary['heldout_nll_after']}"
            }
        },
    )
    return summary
