"""Pre-training from scratch: a character-level Llama on the 近体 poems and couplets of the corpus.

    lianju train --size small --out runs/small            # the CPU default; resumable
    lianju train --size small --out runs/small --resume   # goes on from runs/small/checkpoint

Each epoch draws fresh prompts (keywords, acrostics, next lines; engine.prompts) from the
train split, batches examples of similar length together, and learns only what follows <sep>.
A checkpoint (weights, optimizer, step, data position) is written every `checkpoint_every`
steps and on SIGTERM/SIGINT; the finished model is a `save_pretrained` directory in out/model.
"""

from __future__ import annotations

import json
import math
import random
import signal
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TypedDict

import torch
from tqdm import tqdm
from transformers import LlamaConfig, LlamaForCausalLM

from engine import prompts
from engine.corpus import CorpusUnreadable
from engine.extras import require_extra
from engine.forms import JINTI_FORMS
from engine.lexicon import LEXICON_FILE, Lexicon, build_lexicon
from engine.model_card import finish_model_folder
from engine.tokenizer import add_missing_special_tokens, build_tokenizer, load_tokenizer


class ModelSize(TypedDict):
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int


SIZES: dict[str, ModelSize] = {
    "tiny": ModelSize(hidden_size=64, intermediate_size=176, num_hidden_layers=2, num_attention_heads=2),
    "small": ModelSize(hidden_size=384, intermediate_size=1024, num_hidden_layers=6, num_attention_heads=6),
    # 29M parameters, 58 MB
    "medium": ModelSize(hidden_size=512, intermediate_size=1408, num_hidden_layers=8, num_attention_heads=8),
    "base": ModelSize(hidden_size=768, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=12),
}


def size_of(config: LlamaConfig) -> str:
    """The name of a model's size: a resumed or warm-started run is the size of what it loaded,
    whatever --size says."""
    shape = {key: getattr(config, key) for key in ModelSize.__annotations__}
    return next((name for name, size in SIZES.items() if size == shape), "custom")


MAX_LENGTH = 96  # a 七律 with its prompt is about 80 tokens


@dataclass
class TrainConfig:
    corpus: Path  # a folder written by `lianju corpus build`
    out: Path
    size: str = "small"
    max_steps: int = 8000
    minutes: float | None = None  # a time budget: the schedule follows the clock, then stop
    batch_size: int = 64
    grad_accum: int = 1
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 200
    weight_decay: float = 0.1
    dropout: float = 0.0
    couplet_share: float = 0.3  # share of the corpus couplets used each epoch
    extra_text: bool = True  # the train poems of other forms as extra text (engine.prompts.extra_text_examples)
    eval_every: int = 250
    eval_examples: int = 512
    checkpoint_every: int = 250
    stop_after: int | None = None  # checkpoint and stop after this many steps of this run
    precision: str = "auto"  # auto, bf16 or fp32
    seed: int = 1234
    init_from: Path | None = None  # warm start: a from_pretrained folder (its tokenizer is extended, not rebuilt)


@dataclass
class TrainState:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    tokens_seen: int = 0
    seconds: float = 0.0
    history: list[dict] = field(default_factory=list)  # {step, train_loss, val_loss, tokens_seen}


# ---------------------------------------------------------------------------------------------
# Data


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        try:
            return [json.loads(line) for line in handle]
        except ValueError as error:  # not JSON, or not UTF-8
            raise CorpusUnreadable(f"{path} is not JSON lines ({error}): run `lianju corpus build` again") from None


POEM_RECORD = ("id", "form", "split", "lines")  # what every reader of poems.jsonl takes from a record


def poem_records(corpus: Path) -> list[dict]:
    """The corpus's poem records, every form and split."""
    records = read_jsonl(corpus / "poems.jsonl")
    for number, record in enumerate(records, 1):
        if not (isinstance(record, dict) and all(key in record for key in POEM_RECORD)):
            raise CorpusUnreadable(
                f"{corpus / 'poems.jsonl'} line {number} is not a poem record ({', '.join(POEM_RECORD)}): "
                "run `lianju corpus build` again"
            )
    return records


def jinti_records(corpus: Path) -> list[dict]:
    """The corpus's 近体 poem records, every split."""
    return [r for r in poem_records(corpus) if r["form"] in JINTI_FORMS]


def extra_text_records(records: list[dict]) -> list[dict]:
    """The train poems of other forms as extra text: {form: "ci" (a 词 of any tune) or "other", lines}."""
    return [
        {"form": "ci" if r["form"].startswith("ci") else "other", "lines": r["lines"]}
        for r in records
        if r["form"] not in JINTI_FORMS and r["split"] == "train"
    ]


def load_corpus(corpus: Path, records: list[dict] | None = None) -> dict[str, tuple[list[dict], list[dict]]]:
    """Per split: (近体 poem records, couplets); `records`: the corpus's poem records, when already read."""
    poems = [r for r in records if r["form"] in JINTI_FORMS] if records is not None else jinti_records(corpus)
    couplets = read_jsonl(corpus / "couplets.jsonl")
    return {
        split: ([r for r in poems if r["split"] == split], [c for c in couplets if c["split"] == split])
        for split in ("train", "val", "test")
    }


def load_lexicon(corpus: Path, records: list[dict] | None = None) -> Lexicon:
    """The corpus's lexicon (engine.lexicon), mined and saved beside it the first time."""
    path = corpus / LEXICON_FILE
    if path.is_file():
        return Lexicon.load(path)
    lexicon = build_lexicon(records if records is not None else read_jsonl(corpus / "poems.jsonl"))
    lexicon.save(path)
    return lexicon


def make_examples(
    poems: list[dict],
    couplets: list[dict],
    rng: random.Random,
    couplet_share: float,
    lexicon: Lexicon,
    extra: Sequence[dict] = (),
):
    """An epoch's examples: every 近体 poem, a share of the couplets, and the extra text (poems of
    other forms, engine.prompts.extra_text_examples) when given."""
    examples = [example for record in poems for example in prompts.training_examples(record, rng, lexicon)]
    chosen = rng.sample(couplets, k=int(len(couplets) * couplet_share))
    examples += [prompts.couplet_example(pair) for pair in chosen]
    examples += [example for record in extra for example in prompts.extra_text_examples(record, rng)]
    return examples


def tokenize(tokenizer, examples: list[tuple[str, str]]) -> list[tuple[list[int], int]]:
    """(token ids, length of the prompt) per example, cut to MAX_LENGTH."""
    if not examples:
        return []
    prompt_ids = tokenizer([p for p, _ in examples], add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer([c for _, c in examples], add_special_tokens=False)["input_ids"]
    return [((p + c)[:MAX_LENGTH], len(p)) for p, c in zip(prompt_ids, completion_ids)]


def length_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of examples of similar length, so little is spent on padding."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * 64
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lengths.__getitem__)
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(items: list[tuple[list[int], int]], pad_id: int) -> dict[str, torch.Tensor]:
    # B rows (the items), T the longest item's tokens; the shorter ones are right-padded
    width = max(len(ids) for ids, _ in items)
    input_ids = torch.full((len(items), width), pad_id, dtype=torch.long)  # (B, T)
    labels = torch.full((len(items), width), -100, dtype=torch.long)  # (B, T), -100: no loss
    attention_mask = torch.zeros((len(items), width), dtype=torch.long)  # (B, T), 1: a real token
    for row, (ids, prompt_length) in enumerate(items):
        input_ids[row, : len(ids)] = torch.tensor(ids)  # (len(ids),)
        attention_mask[row, : len(ids)] = 1
        labels[row, prompt_length : len(ids)] = torch.tensor(ids[prompt_length:])  # the completion only
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


# ---------------------------------------------------------------------------------------------
# Model and optimisation


def new_model(size: str, tokenizer, dropout: float = 0.0) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=128,
        tie_word_embeddings=True,
        attention_dropout=dropout,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **SIZES[size],
    )
    return LlamaForCausalLM(config)


def make_optimizer(model, cfg: TrainConfig, fused: bool = False) -> torch.optim.AdamW:
    # Weight decay on matrices only, not on norms and biases (as in nanoGPT).
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    # fused: one CUDA kernel for the whole update (engine.oneshot), not one per tensor
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95), fused=fused)


def finished(state: TrainState, cfg: TrainConfig) -> bool:
    return state.step >= cfg.max_steps or bool(cfg.minutes and state.seconds >= cfg.minutes * 60)


def schedule_position(state: TrainState, cfg: TrainConfig) -> float:
    """How far along the run is (0 to 1): by steps, or by the clock when a time budget is set."""
    by_steps = (state.step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
    by_clock = state.seconds / (cfg.minutes * 60) if cfg.minutes else 0.0
    return min(1.0, max(0.0, by_steps, by_clock))


def learning_rate(state: TrainState, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to min_lr_ratio * lr."""
    if state.step < cfg.warmup_steps:
        return cfg.lr * (state.step + 1) / cfg.warmup_steps
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * schedule_position(state, cfg)))


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def use_bf16(device: torch.device, precision: str) -> bool:
    if precision != "auto":
        return precision == "bf16"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    # CPUs with AVX512-BF16 or AMX run bf16 autocast about 1.5x faster than fp32 here.
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


@torch.no_grad()
def completion_loss(model, items, pad_id: int, device, bf16: bool, batch_size: int = 64) -> float:
    """Mean NLL (nats) per completion token: what follows <sep>, including <eos>."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(items), batch_size):
        batch = {k: v.to(device) for k, v in collate(items[start : start + batch_size], pad_id).items()}  # (B, T) each
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits  # (B, T, V)
        labels = batch["labels"][:, 1:]  # (B, T - 1): position t predicts token t + 1
        # logits as (B, V, T - 1) against labels (B, T - 1); summed here, averaged over every batch at the end
        losses = torch.nn.functional.cross_entropy(
            logits[:, :-1].float().transpose(1, 2), labels, ignore_index=-100, reduction="sum"
        )  # ()
        total += losses.item()
        count += int((labels != -100).sum())
    model.train()
    return total / max(count, 1)


# ---------------------------------------------------------------------------------------------
# Checkpoints


def save_checkpoint(folder: Path, model, optimizer, state: TrainState, cfg: TrainConfig) -> None:
    staging = folder.with_name(folder.name + ".tmp")
    staging.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(staging)
    torch.save(optimizer.state_dict(), staging / "optimizer.pt")
    (staging / "state.json").write_text(json.dumps({"state": asdict(state), "config": _jsonable(cfg)}, indent=1))
    old = folder.with_name(folder.name + ".old")
    if folder.exists():
        folder.rename(old)
    staging.rename(folder)  # a crash leaves either the old checkpoint or the new one, whole
    if old.exists():
        for path in old.iterdir():
            path.unlink()
        old.rmdir()


def _jsonable(cfg: TrainConfig) -> dict:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()}


def plot_losses(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    steps = [h["step"] for h in history]
    axes.plot(steps, [h["train_loss"] for h in history], label="train")
    val = [(h["step"], h["val_loss"]) for h in history if h.get("val_loss") is not None]
    if val:
        axes.plot(*zip(*val), marker="o", label="validation")
    axes.set_xlabel("step")
    axes.set_ylabel("loss (nats per character)")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def export(model, tokenizer, state: TrainState, cfg: TrainConfig) -> Path:
    """The finished model as a from_pretrained directory (bf16 weights: half the size) with its model card."""
    target = cfg.out / "model"
    model.to(torch.bfloat16).save_pretrained(target)
    model.float()
    tokenizer.save_pretrained(target)
    (target / "train_log.json").write_text(
        json.dumps({"state": asdict(state), "config": _jsonable(cfg)}, ensure_ascii=False, indent=1)
    )
    plot_losses(state.history, target / "loss.png")
    finish_model_folder(target)
    return target


# ---------------------------------------------------------------------------------------------
# The loop


def train(cfg: TrainConfig, resume: bool = False, progress: bool = True) -> Path | None:
    """Train; returns out/model when finished (steps or time), None when stopped early (resumable)."""
    require_extra("matplotlib", "train", "`lianju train` (its loss plot)")  # now, not after the last step
    torch.manual_seed(cfg.seed)
    device = pick_device()
    bf16 = use_bf16(device, cfg.precision)
    checkpoint = cfg.out / "checkpoint"
    records = poem_records(cfg.corpus)  # once: the splits, the extra text and a missing lexicon all read it
    data = load_corpus(cfg.corpus, records)
    extra = extra_text_records(records) if cfg.extra_text else []
    lexicon = load_lexicon(cfg.corpus, records)
    train_poems, train_couplets = data["train"]
    if not train_poems:
        raise ValueError(f"no 近体 poems in the train split of {cfg.corpus}: build the corpus first")

    if resume:
        if not (checkpoint / "state.json").is_file():
            raise FileNotFoundError(f"no checkpoint to resume in {checkpoint}")
        tokenizer = load_tokenizer(cfg.out / "tokenizer")
        model = LlamaForCausalLM.from_pretrained(checkpoint, dtype=torch.float32)
        state = TrainState(**json.loads((checkpoint / "state.json").read_text())["state"])
    elif cfg.init_from:
        tokenizer = load_tokenizer(cfg.init_from)
        add_missing_special_tokens(tokenizer)
        tokenizer.save_pretrained(cfg.out / "tokenizer")
        model = LlamaForCausalLM.from_pretrained(cfg.init_from, dtype=torch.float32, attention_dropout=cfg.dropout)
        # new rows start at the mean embedding, so a new token is not a loud stranger
        model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
        state = TrainState()
    else:
        tokenizer = build_tokenizer("".join(r["lines"]) for r in train_poems)
        tokenizer.save_pretrained(cfg.out / "tokenizer")
        model = new_model(cfg.size, tokenizer, cfg.dropout)
        state = TrainState()
    cfg = replace(cfg, size=size_of(model.config))  # what the state and the progress bar report
    model.to(device).train()  # type: ignore[arg-type]  # transformers types to() through functools.wraps, unbound
    optimizer = make_optimizer(model, cfg)
    if resume:
        optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt", map_location=device))
    pad_id = tokenizer.pad_token_id

    val_poems, val_couplets = data["val"] if data["val"][0] else data["train"]
    val_items = tokenize(
        tokenizer, make_examples(val_poems, val_couplets, random.Random(cfg.seed), cfg.couplet_share, lexicon)
    )[: cfg.eval_examples]

    stop = {"signal": None}

    def on_signal(signum, _frame):
        stop["signal"] = signum

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    run_steps = 0
    params = sum(p.numel() for p in model.parameters())
    bar = tqdm(
        total=cfg.max_steps,
        initial=state.step,
        disable=not progress,
        unit="step",
        desc=f"{cfg.size} {params / 1e6:.1f}M {'bf16' if bf16 else 'fp32'}",
    )
    try:
        while not finished(state, cfg):
            # the epoch's examples: drawn afresh each epoch (a new mix of plans and couplets), from a seed that
            # depends only on the epoch, so a resumed run sees the same batches as an unbroken one
            rng = random.Random(cfg.seed * 1000 + state.epoch)
            examples = make_examples(train_poems, train_couplets, rng, cfg.couplet_share, lexicon, extra)
            items = tokenize(tokenizer, examples)
            batches = length_batches([len(ids) for ids, _ in items], cfg.batch_size, rng)
            steps_in_epoch = len(batches) // cfg.grad_accum
            while state.batch_in_epoch < steps_in_epoch and not finished(state, cfg):
                started = time.monotonic()
                # the learning rate of this step (warm-up, then cosine decay)
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(state, cfg)
                # forward and backward over grad_accum batches: their gradients add up to one step's
                loss_sum, tokens = 0.0, 0
                for micro in range(cfg.grad_accum):
                    index = batches[state.batch_in_epoch * cfg.grad_accum + micro]
                    batch = {k: v.to(device) for k, v in collate([items[i] for i in index], pad_id).items()}  # (B, T)
                    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                        loss = model(**batch).loss / cfg.grad_accum  # (): mean over the batch's completion tokens
                    loss.backward()
                    loss_sum += loss.item()
                    tokens += int(batch["attention_mask"].sum())
                # clip, update, and drop the gradients
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                # bookkeeping: where we are, for the progress bar, the history and a resume
                state.step += 1
                state.batch_in_epoch += 1
                state.tokens_seen += tokens
                elapsed = time.monotonic() - started
                state.seconds += elapsed
                run_steps += 1
                # the held-out loss every eval_every steps and at the end
                record = {"step": state.step, "train_loss": round(loss_sum, 4), "tokens_seen": state.tokens_seen}
                if state.step % cfg.eval_every == 0 or finished(state, cfg):
                    record["val_loss"] = round(completion_loss(model, val_items, pad_id, device, bf16), 4)
                state.history.append(record)
                bar.update(1)
                bar.set_postfix(
                    loss=f"{loss_sum:.3f}",
                    val=record.get("val_loss", "-"),
                    tok_s=f"{tokens / elapsed:.0f}",
                    epoch=state.epoch,
                )
                # a checkpoint every checkpoint_every steps, and on SIGTERM/SIGINT before stopping
                stopping = stop["signal"] is not None or run_steps == cfg.stop_after
                if stopping or state.step % cfg.checkpoint_every == 0:
                    save_checkpoint(checkpoint, model, optimizer, state, cfg)
                if stopping:
                    bar.write(f"stopped at step {state.step}; resume with --resume")
                    return None
            if state.batch_in_epoch >= steps_in_epoch:  # not when the budget ran out mid-epoch
                state.epoch += 1
                state.batch_in_epoch = 0
        save_checkpoint(checkpoint, model, optimizer, state, cfg)
        return export(model, tokenizer, state, cfg)
    finally:
        bar.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
