"""Aligning the model to readers: the lines readers mark as failing made less likely, the lines they pass more
likely (KTO), and the poems readers choose over others likelier than those others (DPO), so that every candidate is
better before one is chosen.

Readers mark the lines of our poems that fail (not grammatical, idiomatic classical Chinese, or making no sense
where they stand; bench/line_sheets.py). The line reader (engine.reader) learns to spot such lines among
candidates; this teaches the model itself not to write them. The loss is KTO's (Ethayarajh et al. 2024): unpaired
examples, each a completion judged desirable or not, pulled up or pushed down against a frozen reference model
(the base), each pull saturating in a sigmoid so no line is driven to nothing. An example is one line given its
poem's prompt and the lines before it, as generation writes it: the gradient reaches the characters that led a
line into a rhyme it could not make, not only the forced character itself. Batches of corpus poems in the
training format keep the model on the language it knew (held-out NLL is the check).

The A/B panels (bench/ab_panel.py) record which of two of our poems on one theme readers choose: tens of thousands
of choices, mostly between poems that differ in a line or two, so that a pair's log-ratio points at what made the
difference. `align_to_choices` learns them with DPO's loss (Rafailov et al. 2023): the chosen poem, as the bot
prompts for it, made likelier against the reference than the one it was chosen over, its rhyme characters left out
as above.

Written here rather than with trl's KTOTrainer and DPOTrainer: the examples are token ids cut from poems at line
boundaries or with their rhyme characters left out, the reference's log-probabilities are computed once up front,
the model is trained in this repository's own loop (engine.train's batches and optimiser) beside corpus poems —
each loss itself is three lines.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm
from transformers import AutoModelForCausalLM

from engine import prompts
from engine.evaluate import heldout_of, poems_nll
from engine.forms import JINTI_FORMS, form_for_shape
from engine.model_card import FACTS, finish_model_folder
from engine.reader import carry_over
from engine.request import MAX_THEME_CHARS
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


# Readers' choices between two poems (DPO): 400 steps of 32 choices at 1e-5, β 0.1 on the A/B panels' 23,736 choices
# (bench/panels/2026-11-30-s24-dpo): held-out panels' choices followed 58.9% (the base's own likelihood 56.4%),
# held-out NLL +0.008; raters chose its poems over the base's 193 of 320 times.
CHOICES_CONFIG = AlignConfig(steps=400, lr=1e-5, batch_size=32, corpus_batch_size=32, beta=0.1)


@dataclass(frozen=True)
class Choice:
    """A reader's choice between two poems of one form written on one theme."""

    theme: str
    form: str
    chosen: list[str]
    rejected: list[str]


def _read_jsonl(
    path: Path, name: str, fields: str, parse: Callable[[dict], Any], check: Callable[[Any], str | None]
) -> list:
    """The objects of a JSONL file parsed and checked (`check` says what is wrong, or None; a theme no longer than a
    request's, so that every example fits the model's context); a ValueError naming the line for anything else."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read {path} as UTF-8 text: {error}") from None
    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            item = parse(json.loads(raw))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}:{number}: not a {name} ({error!r}); each line needs {fields}") from None
        if len(item.theme) > MAX_THEME_CHARS:
            raise ValueError(f"{path}:{number}: the theme is longer than a request's ({MAX_THEME_CHARS} characters)")
        if problem := check(item):
            raise ValueError(f"{path}:{number}: {problem}")
        found.append(item)
    if not found:
        raise ValueError(f"{path} holds no {name}s")
    return found


def _not_a(form: str, *poems: list[str]) -> str | None:
    for lines in poems:
        shape = form_for_shape([len(line) if isinstance(line, str) else 0 for line in lines])
        if shape is None or shape.name != form:
            return f"its lines are not a {form} (forms: {', '.join(JINTI_FORMS)})"
    return None


def read_marks(path: Path) -> list[MarkedPoem]:
    """Marked poems from a JSONL file, one {"theme", "form", "lines", "failing"} object per line; a ValueError
    naming the line for anything else."""

    def check(poem: MarkedPoem) -> str | None:
        if problem := _not_a(poem.form, poem.lines):
            return problem
        if len(poem.failing) != len(poem.lines) or not all(
            isinstance(share, (int, float)) and 0 <= share <= 1 for share in poem.failing
        ):
            return "failing needs one share from 0 to 1 per line"
        return None

    return _read_jsonl(
        path,
        "marked poem",
        "theme, form, lines, failing",
        lambda data: MarkedPoem(str(data["theme"]), str(data["form"]), list(data["lines"]), list(data["failing"])),
        check,
    )


def read_choices(path: Path) -> list[Choice]:
    """Readers' choices from a JSONL file, one {"theme", "form", "chosen", "rejected"} object per line (the two
    poems' lines); a ValueError naming the line for anything else."""

    def check(choice: Choice) -> str | None:
        if choice.chosen == choice.rejected:
            return "the chosen and the rejected poem are the same"
        return _not_a(choice.form, choice.chosen, choice.rejected)

    return _read_jsonl(
        path,
        "choice",
        "theme, form, chosen, rejected",
        lambda data: Choice(str(data["theme"]), str(data["form"]), list(data["chosen"]), list(data["rejected"])),
        check,
    )


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


def dpo_loss(chosen_ratios: torch.Tensor, rejected_ratios: torch.Tensor, beta: float) -> torch.Tensor:
    """DPO (Rafailov et al. 2023): (B,) log π/π_ref of each chosen poem and (B,) of the poem it was chosen over →
    the mean of −log σ(β·(chosen − rejected))."""
    return -torch.nn.functional.logsigmoid(beta * (chosen_ratios - rejected_ratios)).mean()


def completion_counted(ids: list[int], prompt_length: int) -> tuple[list[int], list[bool]]:
    """An item whose completion (its tokens after the prompt) is what counted_log_probs sums."""
    return ids, [position >= prompt_length for position in range(len(ids))]


def counted_poem(tokenizer, theme: str, form: str, lines: Sequence[str]) -> tuple[list[int], list[bool]]:
    """A poem as the bot prompts for it (`<bos><poem><form>theme<sep>` and the body), its characters counted but
    for the rhyme characters: generation draws those from the rhyme group, so only their rank there matters, and a
    preference between two poems that end their lines in different groups would push whole groups up or down
    (the lesson of line_examples). The end marks, which the form decides, are not counted either."""
    [(ids, prompt_length)] = tokenize(tokenizer, [(prompts.poem_prompt(form, [theme]), prompts.poem_body(list(lines)))])
    counted = [False] * len(ids)
    position = prompt_length
    for number, line in enumerate(lines):
        for index in range(len(line)):
            counted[position + index] = not (number % 2 == 1 and index == len(line) - 1)
        position += len(line) + 1  # the line and its end mark
    return ids, counted


def counted_log_probs(model, items: list[tuple[list[int], list[bool]]], pad_id: int) -> torch.Tensor:
    """(N,) the summed log-probability of each item's counted tokens, each given the tokens before it."""
    device = next(model.parameters()).device
    batch = collate([(ids, 0) for ids, _ in items], pad_id)  # right-padded ids and their attention mask
    input_ids, attention_mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)  # (N, T), (N, T)
    counted = torch.zeros_like(input_ids, dtype=torch.bool)  # (N, T)
    for row, (_, mask) in enumerate(items):
        counted[row, : len(mask)] = torch.tensor(mask)
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits.float()  # (N, T, V)
    targets = input_ids[:, 1:]  # (N, T-1): each token, predicted from those before it
    chosen = torch.log_softmax(logits[:, :-1], -1).gather(-1, targets[..., None])[..., 0]  # (N, T-1)
    return (chosen * counted[:, 1:]).sum(1)  # (N,)


@torch.no_grad()
def all_counted_log_probs(
    model, items: list[tuple[list[int], list[bool]]], pad_id: int, progress: bool = False
) -> torch.Tensor:
    """counted_log_probs of any number of items, 256 at a time, without gradients."""
    chunks = [
        counted_log_probs(model, items[start : start + 256], pad_id)
        for start in tqdm(range(0, len(items), 256), desc="reading", disable=not progress)
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
    tokenizer = load_tokenizer(base)
    items = [
        completion_counted(ids, prompt_length)
        for ids, prompt_length in tokenize(tokenizer, [(prompt, line) for prompt, line, _ in examples])
    ]
    wanted = torch.tensor(desirable)  # (N,)
    # the rarer kind weighs as much in all as the commoner one (KTO's balance of λ_D n_D and λ_U n_U)
    undesirable_weight = float(wanted.sum() / (~wanted).sum())

    def loss_of(model, reference: torch.Tensor, picked: list[int]) -> torch.Tensor:
        # how far the model has moved each picked line from the reference
        log_probs = counted_log_probs(model, [items[i] for i in picked], tokenizer.pad_token_id)  # (B,)
        return kto_loss(log_probs - reference[picked], wanted[picked], config.beta, undesirable_weight)

    passed, failed = int(wanted.sum()), int((~wanted).sum())
    return _fine_tune(
        base,
        out,
        corpus,
        config,
        tokenizer,
        items,
        loss_of,
        {"marked_poems": len(marks), "lines_passed": passed, "lines_failed": failed},
        method="readers' marks (`lianju align`, engine/preference.py, KTO)",
        unit="lines",
        learnt_from=f"{passed:,} lines readers passed and {failed:,} they failed, of {len(marks):,} poems",
        dropout=True,
        progress=progress,
    )


def align_to_choices(
    base: Path, out: Path, choices: list[Choice], corpus: Path, config: AlignConfig = CHOICES_CONFIG, progress=True
) -> dict:
    """Train `base` on readers' choices between two poems (DPO) and corpus poems into `out`, a model folder carrying
    the base's readers as `align` does. Returns what it did."""
    if not choices:
        raise ValueError("no choices to learn from")
    tokenizer = load_tokenizer(base)
    items = [counted_poem(tokenizer, c.theme, c.form, lines) for c in choices for lines in (c.chosen, c.rejected)]

    def loss_of(model, reference: torch.Tensor, picked: list[int]) -> torch.Tensor:
        # each picked choice's chosen and rejected poem, side by side: rows 2i and 2i + 1
        rows = [row for i in picked for row in (2 * i, 2 * i + 1)]
        log_probs = counted_log_probs(model, [items[r] for r in rows], tokenizer.pad_token_id)  # (2B,)
        ratios = (log_probs - reference[rows]).view(-1, 2)  # (B, 2): log π/π_ref of the chosen, of the rejected
        return dpo_loss(ratios[:, 0], ratios[:, 1], config.beta)

    poems = len({(c.form, tuple(p)) for c in choices for p in (c.chosen, c.rejected)})
    return _fine_tune(
        base,
        out,
        corpus,
        config,
        tokenizer,
        items,
        loss_of,
        {"choices": len(choices), "poems": poems},
        method="readers' choices between two of our poems (`lianju align --choices`, engine/preference.py, DPO)",
        unit="choices",
        learnt_from=f"{len(choices):,} choices between {poems:,} poems",
        dropout=False,
        progress=progress,
        count=len(choices),
    )


def _fine_tune(
    base: Path,
    out: Path,
    corpus: Path,
    config: AlignConfig,
    tokenizer,
    items: list[tuple[list[int], list[bool]]],
    loss_of: Callable[[Any, torch.Tensor, list[int]], torch.Tensor],
    summary: dict,
    method: str,
    unit: str,
    learnt_from: str,
    dropout: bool,
    progress: bool,
    count: int | None = None,
) -> dict:
    """The loop both alignments share: the reference's log-probability of every item once, then `config.steps`
    steps each of `loss_of` on `config.batch_size` of the `count` examples (default: one per item) plus the usual
    loss on corpus poems, then the model saved into `out` with the base's readers carried and a line on its card:
    aligned to `method`, steps of so many `unit` and corpus poems, on `learnt_from` (also in the summary returned,
    for the CLI to say). With `dropout` off the model steps in eval mode, so that an example it has not moved has a
    log-ratio of exactly 0 (DPO's pairs are compared by that ratio alone)."""
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    device = pick_device()
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).to(device)  # type: ignore[arg-type]  # transformers types to() through functools.wraps, unbound

    # the reference: the base's log-probability of every item, once
    model.eval()
    # in the precision the steps run in, so that an item the model has not moved has a log-ratio of exactly 0
    with torch.autocast(device.type, dtype=torch.bfloat16):
        reference = all_counted_log_probs(model, items, tokenizer.pad_token_id, progress)  # (N,)
    poems_read = jinti_records(corpus)  # once: it is large
    held_out = [(r["form"], r["lines"]) for r in heldout_of(poems_read)[0]]
    nll_before = poems_nll(model, tokenizer, held_out, device, False)

    # corpus poems in the training format (plans, keywords, acrostics), for the usual next-token loss
    records = [r for r in poems_read if r["split"] == "train"]
    if not records:
        raise ValueError(f"{corpus} holds no 近体 poems in its train split to keep the model on the language")
    lexicon = load_lexicon(corpus, records)
    optimizer = make_optimizer(model, TrainConfig(corpus=corpus, out=out, lr=config.lr, weight_decay=0.0))
    model.train(dropout)
    count = len(items) if count is None else count
    for _ in tqdm(range(config.steps), desc="aligning", disable=not progress):
        # a batch of examples, judged against the reference
        picked = rng.sample(range(count), min(config.batch_size, count))
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = loss_of(model, reference, picked)
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
        **summary,
        "learnt_from": learnt_from,
        "heldout_nll_before": round(nll_before or 0.0, 4),
        "heldout_nll_after": round(nll_after or 0.0, 4),
        **asdict(config),
    }
    # a model aligned before (KTO, then DPO) keeps the earlier line
    earlier = (
        json.loads((out / FACTS).read_text()).get("training", {}).get("alignment") if (out / FACTS).is_file() else None
    )
    line = (
        f"aligned to {method}: {config.steps} steps of {config.batch_size} {unit} and {config.corpus_batch_size} "
        f"corpus poems, lr {config.lr:g}, β {config.beta:g}; {learnt_from}; held-out NLL "
        f"{summary['heldout_nll_before']} → {summary['heldout_nll_after']}"
    )
    alignment = f"{earlier}; then {line}" if earlier else line
    finish_model_folder(out, {"training": {"alignment": alignment}})
    return summary
