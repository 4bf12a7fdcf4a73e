"""The one-shot GPU run: train on a lent GPU for a few minutes, save, measure, all in one command.

    PYTHONPATH=. python3 -m engine.oneshot --data build/oneshot --out $OUT        # scripts/gpu-oneshot.sh

A GPU machine is lent by chance, for 15 minutes in all and 10 per command, with no network and no
corpus, and only 8 files of 16 MiB each come back. So everything happens in one command, against
a clock (--deadline-minutes), each phase skipped, saying so, when what is left would not fit it:

1. data: the packed records (engine.pack) become examples exactly as on the CPU
   (engine.prompts.training_examples, fresh keywords and plans each epoch), made by worker
   processes ahead of the loop, then PACKED into rows of --seq-len tokens, examples back to back
   (`pack_sequences`): no padding but at the end of an epoch. Position ids restart at each example,
   and given no attention mask and use_cache=False (with a cache it does not look), transformers
   reads that as packed sequences and keeps each example from seeing the one before it: a document
   mask at no cost in padding (`packing_isolates_examples` checks it at the start of the run).
2. optionally, a scaling check (--scaling small,medium): each size trains for the same short
   time; with --size auto the lowest validation loss goes on training from where it is.
3. training: bf16 autocast, fused AdamW, optional torch.compile (--compile; the step time is
   logged so that a later run can choose), attention dropout and weight decay as settings, a
   cosine schedule that follows the clock, the val split's loss every --eval-every steps; the
   weights of the lowest val loss are the ones kept (several epochs of a small corpus overfit).
4. the model saved sharded (every file at most 15 MiB) with its tokenizer and config, the loss
   log and curve; then held-out NLL (engine.evaluate's: the frozen test poems given only
   `<poem><form><sep>`), of the new model and of the shipped one;
5. with bitsandbytes importable, the GPU backends (cuda-bf16, cuda-nf4, cuda-int8) through the
   poet as the bot uses it: one poem per form (the bot's candidates) at batch 1, poems/s at 16 and 64
   concurrent requests, held-out NLL of each backend's own logits.

What comes back in --out ($OUT): the model's *.safetensors shards, model-meta.tar (config,
shard index, tokenizer, generation config, train_log.json: untar it beside the shards),
loss.png and results.json. The script checks the limits on those files itself and fails loudly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import shutil
import statistics
import tarfile
import tempfile
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers
from tqdm import tqdm
from transformers import AutoModelForCausalLM, LlamaForCausalLM

from engine import prompts
from engine.pack import PackedData, load_packed
from engine.tokenizer import load_tokenizer
from engine.train import (
    SIZES,
    TrainConfig,
    TrainState,
    completion_loss,
    learning_rate,
    make_examples,
    make_optimizer,
    new_model,
    plot_losses,
    tokenize,
)

SHIPPED_MODEL = Path(__file__).with_name("weights") / "default"
CORPUS_LINES = Path(__file__).with_name("weights") / "corpus_lines.bloom"
OUT_MAX_FILES = 8  # what the device tool brings back from $OUT
OUT_MAX_BYTES = 16 * 2**20
OUT_NAME = re.compile(r"[A-Za-z0-9._-]+")
META_TAR = "model-meta.tar"
STARTED = time.monotonic()


@dataclass
class OneshotConfig:
    data: Path  # a folder written by engine.pack
    out: Path  # $OUT on the GPU machine
    size: str = "small"  # a key of engine.train.SIZES, or "auto": the winner of the scaling check
    init_from: Path | None = None  # warm start from a from_pretrained folder instead (its size)
    minutes: float = 6.0  # training, wall clock, the scaling check included
    deadline_minutes: float = 9.0  # the whole run, from the start of Python: later phases are skipped
    after_minutes: float = 2.5  # kept for saving and measuring after training
    seq_len: int = 512
    batch_rows: int = 64  # rows of seq_len tokens per step
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.1
    dropout: float = 0.1  # attention dropout: the only dropout the Llama architecture has
    couplet_share: float = 0.3
    extra_text: bool = True  # train on the packed poems of other forms too (engine.pack's extra.jsonl.xz)
    eval_every: int = 200
    eval_examples: int = 2048
    compile: bool = False
    scaling: tuple[str, ...] = ()  # sizes trained for the same short time before the run
    scaling_minutes: float = 0.5
    backends: tuple[str, ...] = ("cuda-bf16", "cuda-nf4", "cuda-int8")
    max_shard_bytes: int = 15 * 2**20
    max_steps: int | None = None  # for the CPU rehearsal
    workers: int = -1  # processes making epochs; 0: in this process; -1: the cores less two, at most 8
    seed: int = 1234


# ---------------------------------------------------------------------------------------------
# Packing


@dataclass
class Packed:
    """An epoch as fixed-length rows; every tensor is [rows, seq_len]."""

    input_ids: torch.Tensor
    labels: torch.Tensor  # -100 on prompts and padding: only what follows <sep> is learnt
    position_ids: torch.Tensor  # 0 at each example's start: transformers masks each example apart
    real_tokens: int  # tokens that are not padding


def pack_sequences(
    ids: np.ndarray, lengths: np.ndarray, prompt_lengths: np.ndarray, seq_len: int, pad_id: int
) -> Packed:
    """Examples (their token ids back to back in `ids`) cut into rows of `seq_len`, in order.

    An example that does not fit at the end of a row goes on at the start of the next, its
    positions going on too (its tail is learnt without its prompt, as in any packed pretraining:
    cheaper than padding every row). Only the last row is padded, as a separate example.
    """
    starts = np.cumsum(lengths) - lengths
    total = int(lengths.sum())
    positions = np.arange(total) - np.repeat(starts, lengths)  # (total,)
    in_prompt = positions < np.repeat(prompt_lengths, lengths)  # (total,)
    labels = np.where(in_prompt, -100, ids)  # (total,)
    padding = -total % seq_len
    ids = np.concatenate([ids, np.full(padding, pad_id)])  # (rows * seq_len,)
    labels = np.concatenate([labels, np.full(padding, -100)])
    positions = np.concatenate([positions, np.arange(padding)])
    shape = (-1, seq_len)
    return Packed(
        input_ids=torch.from_numpy(ids.astype(np.int32).reshape(shape)),
        labels=torch.from_numpy(labels.astype(np.int32).reshape(shape)),
        position_ids=torch.from_numpy(positions.astype(np.int32).reshape(shape)),
        real_tokens=total,
    )


def flatten_items(items: list[tuple[list[int], int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """engine.train.tokenize's (ids, prompt length) items as (ids back to back, lengths, prompt lengths)."""
    lengths = np.fromiter((len(ids) for ids, _ in items), dtype=np.int64, count=len(items))
    flat = np.fromiter((t for ids, _ in items for t in ids), dtype=np.int64, count=int(lengths.sum()))
    return flat, lengths, np.fromiter((p for _, p in items), dtype=np.int64, count=len(items))


def shuffle_examples(
    ids: np.ndarray, lengths: np.ndarray, prompt_lengths: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same examples in a random order, still back to back."""
    order = rng.permutation(len(lengths))
    starts = np.cumsum(lengths) - lengths
    new_lengths = lengths[order]
    new_starts = np.cumsum(new_lengths) - new_lengths
    index = np.arange(int(lengths.sum())) + np.repeat(starts[order] - new_starts, new_lengths)
    return ids[index], new_lengths, prompt_lengths[order]


@torch.no_grad()
def packing_isolates_examples(model, items: list[tuple[list[int], int]], device: torch.device) -> bool:
    """Whether examples packed in one row get the same logits as each alone: the check that this
    transformers turns restarting position ids into a mask between examples."""
    items = items[:4]
    ids, lengths, prompt_lengths = flatten_items(items)
    row = pack_sequences(ids, lengths, prompt_lengths, int(lengths.sum()), 0)
    model.eval()
    packed = model(
        input_ids=row.input_ids.long().to(device), position_ids=row.position_ids.long().to(device), use_cache=False
    ).logits[0]  # (T, V)
    alone = torch.cat(
        [model(input_ids=torch.tensor([example], device=device)).logits[0] for example, _ in items]
    )  # (T, V)
    model.train()
    return bool(torch.allclose(packed.float(), alone.float(), atol=1e-3, rtol=1e-3))


# ---------------------------------------------------------------------------------------------
# Epochs, made ahead by worker processes

_WORKER: dict = {}  # a worker process's packed data and tokenizer


def _load_worker(data: str) -> None:
    packed = load_packed(Path(data))
    _WORKER.update(packed=packed, tokenizer=load_tokenizer(packed.tokenizer_dir))


def _epoch_chunk(epoch: int, chunk: int, chunks: int, seed: int, couplet_share: float, extra_text: bool):
    """One share of an epoch's examples, tokenized: (ids back to back, lengths, prompt lengths)."""
    packed: PackedData = _WORKER["packed"]
    rng = random.Random(f"{seed}/{epoch}/{chunk}")
    examples = make_examples(
        packed.poems["train"][chunk::chunks],
        packed.couplets["train"][chunk::chunks],
        rng,
        couplet_share,
        packed.lexicon,
        packed.extra[chunk::chunks] if extra_text else (),
    )
    return flatten_items(tokenize(_WORKER["tokenizer"], examples))


class EpochFeed:
    """Packed epochs by number; the next ones are being made while the GPU trains on this one."""

    def __init__(self, cfg: OneshotConfig, pad_id: int, ahead: int = 2):
        self.cfg, self.pad_id, self.ahead = cfg, pad_id, ahead
        workers = cfg.workers if cfg.workers >= 0 else max(1, min(8, (os.cpu_count() or 2) - 2))
        # spawn, not fork: the parent holds CUDA, which a forked child must not inherit
        self.pool = (
            ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_load_worker,
                initargs=(str(cfg.data),),
            )
            if workers
            else None
        )
        if not self.pool:
            _load_worker(str(cfg.data))
        self.chunks = max(1, workers)
        self.pending: dict[int, list[Future]] = {}
        self.ready: dict[int, Packed] = {}
        self.prepare(0)

    def prepare(self, epoch: int) -> None:
        for e in range(epoch, epoch + self.ahead + 1):
            if e not in self.pending and e not in self.ready and self.pool:
                self.pending[e] = [
                    self.pool.submit(_epoch_chunk, e, c, self.chunks, *self._settings()) for c in range(self.chunks)
                ]

    def epoch(self, epoch: int) -> Packed:
        self.prepare(epoch)
        if epoch not in self.ready:
            if self.pool:
                parts = [future.result() for future in self.pending.pop(epoch)]
            else:
                parts = [_epoch_chunk(epoch, 0, 1, *self._settings())]
            ids, lengths, prompt_lengths = (np.concatenate(column) for column in zip(*parts))
            ids, lengths, prompt_lengths = shuffle_examples(
                ids, lengths, prompt_lengths, np.random.default_rng([self.cfg.seed, epoch])
            )
            self.ready[epoch] = pack_sequences(ids, lengths, prompt_lengths, self.cfg.seq_len, self.pad_id)
        return self.ready[epoch]  # all kept: a run of the scaling check may start again at 0

    def _settings(self) -> tuple[int, float, bool]:
        return self.cfg.seed, self.cfg.couplet_share, self.cfg.extra_text

    def close(self) -> None:
        if self.pool:
            self.pool.shutdown(wait=False, cancel_futures=True)


# ---------------------------------------------------------------------------------------------
# Time and output limits


class Clock:
    """The whole run's deadline; a phase that would not fit in what is left is skipped, saying so."""

    def __init__(self, deadline_minutes: float, skipped: list[str]):
        self.deadline = STARTED + deadline_minutes * 60
        self.skipped = skipped

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def fits(self, phase: str, seconds: float) -> bool:
        if self.left() >= seconds:
            return True
        note = f"{phase}: skipped, needs about {seconds:.0f} s and {max(self.left(), 0):.0f} s are left"
        self.skipped.append(note)
        print(note, flush=True)
        return False


def check_out_limits(out: Path) -> dict[str, int]:
    """The files in `out` as the device tool brings them back: at most 8, each at most 16 MiB, named
    in letters, digits, '.', '_' and '-', at most two folders down. Raises when one is broken."""
    files = {p.relative_to(out).as_posix(): p.stat().st_size for p in sorted(out.rglob("*")) if p.is_file()}
    problems = []
    if len(files) > OUT_MAX_FILES:
        problems.append(f"{len(files)} files, at most {OUT_MAX_FILES} come back")
    problems += [
        f"{name} is {size / 2**20:.1f} MiB, over 16 MiB" for name, size in files.items() if size > OUT_MAX_BYTES
    ]
    problems += [
        f"{name}: a name the device tool does not bring back"
        for name in files
        if not all(OUT_NAME.fullmatch(part) for part in name.split("/")) or name.count("/") > 2
    ]
    if problems:
        raise RuntimeError(
            f"what is in {out} would not all come back: {'; '.join(problems)}. Too many files: "
            "raise --max-shard-bytes (at most 15 MiB); a file too large: lower it"
        )
    return files


def save_model(
    model, tokenizer, history: list[dict], log: dict, out: Path, staging: Path, max_shard_bytes: int
) -> None:
    """The model as a from_pretrained folder in `staging` (bf16, shards of at most max_shard_bytes),
    and in `out` as it travels back: the shards, model-meta.tar with the rest, loss.png."""
    model.to(torch.bfloat16).save_pretrained(staging, max_shard_size=max_shard_bytes)
    model.float()
    tokenizer.save_pretrained(staging)
    (staging / "train_log.json").write_text(json.dumps(log, ensure_ascii=False, indent=1))
    for shard in staging.glob("*.safetensors"):
        shutil.copyfile(shard, out / shard.name)
    with tarfile.open(out / META_TAR, "w") as archive:
        for path in sorted(staging.iterdir()):
            if path.suffix != ".safetensors":
                archive.add(path, arcname=path.name)
    plot_losses(history, out / "loss.png")


# ---------------------------------------------------------------------------------------------
# Training


@dataclass
class Run:
    """One model being trained: the main one, or a size of the scaling check."""

    size: str
    model: LlamaForCausalLM
    optimizer: torch.optim.AdamW
    train_cfg: TrainConfig  # for engine.train.learning_rate: the schedule over `minutes`
    state: TrainState = field(default_factory=TrainState)
    step_model: Any = None  # the model the steps call: compiled (torch.compile's wrapper) or not
    step_seconds: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # the weights at the lowest val loss so far: several epochs over a small corpus overfit (the first
    # GPU run's 29M model passed its best, 2.86, in epoch 5 and ended at 2.91 in epoch 9)
    best_val_loss: float = float("inf")
    best_step: int = 0
    best_weights: dict[str, torch.Tensor] | None = None

    def remember_if_best(self, val_loss: float) -> None:
        if val_loss < self.best_val_loss:
            self.best_val_loss, self.best_step = val_loss, self.state.step
            self.best_weights = {name: t.detach().clone() for name, t in self.model.state_dict().items()}

    def keep_best(self) -> None:
        """Go back to the best weights seen, if the last ones are worse."""
        if self.best_weights is not None and self.state.history[-1].get("val_loss", 0.0) > self.best_val_loss:
            self.model.load_state_dict(self.best_weights)
        self.best_weights = None

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def start_run(cfg: OneshotConfig, size: str, tokenizer, device: torch.device, planned_minutes: float) -> Run:
    if cfg.init_from:
        model = LlamaForCausalLM.from_pretrained(cfg.init_from, dtype=torch.float32, attention_dropout=cfg.dropout)
        # new rows start at the mean embedding, as engine.train's --init-from
        model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    else:
        model = new_model(size, tokenizer, cfg.dropout)
    model.to(device).train()  # type: ignore[arg-type]  # transformers types to() through functools.wraps, unbound
    train_cfg = TrainConfig(
        corpus=cfg.data,
        out=cfg.out,
        size=size,
        max_steps=cfg.max_steps or 10**9,
        minutes=planned_minutes,
        lr=cfg.lr,
        min_lr_ratio=cfg.min_lr_ratio,
        warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay,
        dropout=cfg.dropout,
    )
    optimizer = make_optimizer(model, train_cfg, fused=device.type == "cuda")
    run = Run(size, model, optimizer, train_cfg)
    run.step_model = torch.compile(model) if cfg.compile else model
    return run


def train_for(
    run: Run,
    feed: EpochFeed,
    seconds: float,
    cfg: OneshotConfig,
    val_items,
    pad_id: int,
    device: torch.device,
    desc: str,
) -> None:
    """Train `run` for `seconds` of wall clock (or until max_steps), going on from its state."""
    state, batch_rows = run.state, cfg.batch_rows
    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    began, until = state.seconds, time.monotonic() + seconds
    running_loss, losses_since = torch.zeros((), device=device), 0  # running_loss: (), on the device
    bar_seconds = round(seconds)
    bar = tqdm(total=bar_seconds, unit="s", desc=f"{desc} {run.size} {run.parameters / 1e6:.1f}M", mininterval=5)
    while time.monotonic() < until and state.step < run.train_cfg.max_steps:
        started = time.monotonic()
        # the epoch's packed rows; the next epoch once this one is done
        epoch = feed.epoch(state.epoch)
        first = state.batch_in_epoch * batch_rows
        if first >= len(epoch.input_ids):
            state.epoch, state.batch_in_epoch = state.epoch + 1, 0
            continue
        # the learning rate where the schedule is (warm-up, then cosine over the planned minutes)
        for group in run.optimizer.param_groups:
            group["lr"] = learning_rate(state, run.train_cfg)
        # the batch: rows of packed examples
        x = epoch.input_ids[first : first + batch_rows].to(device, non_blocking=True).long()  # (B, T)
        y = epoch.labels[first : first + batch_rows].to(device, non_blocking=True).long()  # (B, T)
        p = epoch.position_ids[first : first + batch_rows].to(device, non_blocking=True).long()  # (B, T)
        # forward in bf16 and backward; no attention mask and no cache, so that transformers reads the
        # restarting positions as packed sequences and keeps the examples apart
        try:
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = run.step_model(input_ids=x, labels=y, position_ids=p, use_cache=False).loss  # (): mean
        except Exception as error:  # noqa: BLE001 (a compiler failure: go on eagerly, saying so)
            if run.step_model is run.model:
                raise
            run.notes.append(f"torch.compile failed ({type(error).__name__}: {error}); trained without it")
            run.step_model = run.model
            continue
        loss.backward()
        # clip, step, clear
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), 1.0)
        run.optimizer.step()
        run.optimizer.zero_grad(set_to_none=True)
        # bookkeeping, with no .item() but when logging, so the CPU never waits for the GPU
        running_loss += loss.detach()
        losses_since += 1
        state.step += 1
        state.batch_in_epoch += 1
        state.tokens_seen += int((epoch.labels[first : first + batch_rows] != -100).sum())
        elapsed = time.monotonic() - started
        state.seconds += elapsed
        run.step_seconds.append(elapsed)
        # a record every 20 steps, with the held-out loss every eval_every
        evaluating = state.step % cfg.eval_every == 0
        if evaluating or state.step % 20 == 0:
            record = {
                "step": state.step,
                "train_loss": round(running_loss.item() / losses_since, 4),
                "tokens_seen": state.tokens_seen,
                "seconds": round(state.seconds, 1),
                "epoch": state.epoch,
            }
            running_loss.zero_()
            losses_since = 0
            if evaluating:
                eval_started = time.monotonic()
                record["val_loss"] = round(completion_loss(run.model, val_items, pad_id, device, bf16, 256), 4)
                run.remember_if_best(record["val_loss"])
                state.seconds += time.monotonic() - eval_started
            state.history.append(record)
            bar.update(max(0, min(round(state.seconds - began), bar_seconds) - bar.n))
            bar.set_postfix(loss=record["train_loss"], val=record.get("val_loss", "-"), epoch=state.epoch)
    if losses_since:
        state.history.append(
            {
                "step": state.step,
                "train_loss": round(running_loss.item() / losses_since, 4),
                "tokens_seen": state.tokens_seen,
                "seconds": round(state.seconds, 1),
                "epoch": state.epoch,
            }
        )
    if state.history:
        state.history[-1]["val_loss"] = round(completion_loss(run.model, val_items, pad_id, device, bf16, 256), 4)
        run.remember_if_best(state.history[-1]["val_loss"])
    bar.close()


def step_timing(run: Run, cfg: OneshotConfig) -> dict:
    """Median step time after the first 10 steps (compilation, warm-up), and tokens per second."""
    steady = run.step_seconds[10:] or run.step_seconds
    median = statistics.median(steady) if steady else None
    return {
        "steps": run.state.step,
        "epoch": run.state.epoch,
        "tokens_seen": run.state.tokens_seen,
        "seconds": round(run.state.seconds, 1),
        "ms_per_step": round(median * 1000, 2) if median else None,
        "tokens_per_s": round(cfg.batch_rows * cfg.seq_len / median) if median else None,
        "compiled": cfg.compile and run.step_model is not run.model,
        "notes": run.notes,
    }


# ---------------------------------------------------------------------------------------------
# Measurements


def heldout_items(tokenizer, poems: list[dict]) -> list[tuple[list[int], int]]:
    """engine.evaluate's held-out examples: each poem given only `<poem><form><sep>`."""
    return tokenize(
        tokenizer, [(prompts.poem_prompt(p["form"]), prompts.poem_body(p["lines"]) + prompts.EOS) for p in poems]
    )


@torch.no_grad()
def backend_nll(backend, items: list[tuple[list[int], int]], pad_id: int, batch_size: int = 64) -> float:
    """Nats per poem token of a backend's own logits (right padding: causal attention never sees it)."""
    total, count = 0.0, 0
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)  # (B, T)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)  # (B, T)
        for row, (ids, prompt_length) in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            labels[row, prompt_length : len(ids)] = torch.tensor(ids[prompt_length:])
        logits = backend.all_logits(input_ids)  # (B, T, V)
        total += torch.nn.functional.cross_entropy(
            logits[:, :-1].transpose(1, 2), labels[:, 1:], ignore_index=-100, reduction="sum"
        ).item()
        count += int((labels[:, 1:] != -100).sum())
    return total / max(count, 1)


async def measure_backend(model_dir: Path, kind: str, items, repeats: int = 3) -> dict:
    """As bench/engine.py: one poem per form as the bot asks (its candidates), poems/s at 16 and 64
    concurrent requests (one candidate each, a 七律), held-out NLL of the backend's logits."""
    from engine.evaluate import THEMES
    from engine.forms import JINTI_FORMS
    from engine.poet import Poet
    from engine.prosody import check

    poet = Poet(model_dir, kind, CORPUS_LINES)
    try:
        await poet.compose("月", form="qilv", seed=0)  # warm-up
        per_form = {}
        for form in JINTI_FORMS:
            seconds, reports = [], []
            for i in range(repeats):
                started = time.perf_counter()
                poem = await poet.compose(THEMES[i % len(THEMES)], form=form, seed=i)
                seconds.append(time.perf_counter() - started)
                reports.append(check(poem.text, form))
            per_form[form] = {
                "poem_as_the_bot_asks_s": round(statistics.median(seconds), 4),
                "scans": sum(r.format_ok and r.rhyme_ok and r.tone_ok_lenient for r in reports) / repeats,
                "example": poem.text,
            }
        throughput = {}
        for concurrency in (16, 64):
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    poet.compose(THEMES[i % len(THEMES)], form="qilv", n_candidates=1, seed=100 * concurrency + i)
                    for i in range(concurrency)
                )
            )
            throughput[str(concurrency)] = round(concurrency / (time.perf_counter() - started), 2)
        nll = await asyncio.get_running_loop().run_in_executor(
            poet.torch_thread, backend_nll, poet.model.backend, items, poet.model.tokenizer.pad_token_id
        )
        memory = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
        return {
            "per_form": per_form,
            "poems_per_s": throughput,
            "heldout_nll": round(nll, 4),
            "heldout_poems": len(items),
            "peak_gpu_mib": round(memory, 1) if memory else None,
        }
    finally:
        await poet.close()


def measure_backends(model_dir: Path, kinds: tuple[str, ...], items, clock: Clock) -> dict:
    """Each backend in turn; one that cannot load or fails is recorded with its error, not fatal."""
    results: dict[str, dict] = {}
    try:
        import bitsandbytes  # noqa: F401

        quantized = None
    except ImportError as error:
        quantized = f"bitsandbytes does not import ({error}): carry its trimmed wheel (scripts/prepare-oneshot.sh)"
    for kind in kinds:
        if kind != "cuda-bf16" and quantized:
            results[kind] = {"skipped": quantized}
            continue
        if not clock.fits(f"backend {kind}", 45):
            results[kind] = {"skipped": "out of time"}
            continue
        started = time.monotonic()
        try:
            results[kind] = asyncio.run(measure_backend(model_dir, kind, items))
        except Exception as error:  # noqa: BLE001 (one backend failing must not lose the others' numbers)
            results[kind] = {"error": f"{type(error).__name__}: {error}"}
        results[kind]["seconds"] = round(time.monotonic() - started, 1)
        torch.cuda.empty_cache()
    return results


# ---------------------------------------------------------------------------------------------
# The run


def _jsonable(cfg: OneshotConfig) -> dict:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(cfg).items()}


def oneshot(cfg: OneshotConfig) -> dict:
    """The whole run; returns what it also writes to out/results.json."""
    if cfg.size == "auto" and not cfg.scaling:
        raise ValueError("--size auto takes the winner of the scaling check: give --scaling too")
    if cfg.size not in (*SIZES, "auto") or any(size not in SIZES for size in cfg.scaling):
        raise ValueError(f"unknown size: use one of {', '.join(SIZES)} (or auto with --scaling)")
    cfg.out.mkdir(parents=True, exist_ok=True)
    skipped: list[str] = []
    clock = Clock(cfg.deadline_minutes, skipped)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    results: dict = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "config": _jsonable(cfg),
        "skipped": skipped,
    }

    def write_results() -> None:
        (cfg.out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1))

    # data: the packed records, the epochs being made, the val and held-out examples
    torch.manual_seed(cfg.seed)
    data = load_packed(cfg.data)
    tokenizer = load_tokenizer(data.tokenizer_dir)
    pad_id = tokenizer.pad_token_id
    feed = EpochFeed(cfg, pad_id)
    val_poems, val_couplets = (
        (data.poems["val"], data.couplets["val"])
        if data.poems["val"]
        else (data.poems["train"], data.couplets["train"])
    )
    val_items = tokenize(
        tokenizer, make_examples(val_poems, val_couplets, random.Random(cfg.seed), cfg.couplet_share, data.lexicon)
    )[: cfg.eval_examples]
    heldout = heldout_items(tokenizer, data.heldout)
    results["data"] = {
        "train_poems": len(data.poems["train"]),
        "train_couplets": len(data.couplets["train"]),
        "extra_poems": len(data.extra) if cfg.extra_text else 0,
        "val_examples": len(val_items),
        "heldout_poems": len(heldout),
    }
    training_seconds = min(cfg.minutes * 60, clock.left() - cfg.after_minutes * 60)
    if training_seconds <= 0:
        raise RuntimeError(
            f"no time left to train ({clock.left():.0f} s before the deadline): "
            "raise --deadline-minutes or lower --after-minutes"
        )

    waited = time.monotonic()
    feed.epoch(0)  # made before any clock of a run starts, so the first size of the scaling check waits for nothing
    results["data"]["first_epoch_s"] = round(time.monotonic() - waited, 1)
    train_started = time.monotonic()
    try:
        # the scaling check: each size for the same short time; the chosen one goes on from there
        main_run = None
        if cfg.scaling and not cfg.init_from:
            check_seconds = cfg.scaling_minutes * 60
            planned_minutes = (training_seconds - check_seconds * (len(cfg.scaling) - 1)) / 60
            runs = {}
            for size in cfg.scaling:
                runs[size] = start_run(cfg, size, tokenizer, device, planned_minutes)
                train_for(runs[size], feed, check_seconds, cfg, val_items, pad_id, device, "scaling")
            results["scaling"] = {
                size: {
                    "parameters": run.parameters,
                    "val_loss": run.state.history[-1]["val_loss"],
                    **step_timing(run, cfg),
                }
                for size, run in runs.items()
            }
            best = min(runs, key=lambda size: runs[size].state.history[-1]["val_loss"])
            results["scaling_best"] = best
            main_run = runs.get(best if cfg.size == "auto" else cfg.size)
            runs.clear()
            if device.type == "cuda":
                torch.cuda.empty_cache()
        size = cfg.size if cfg.size != "auto" else results["scaling_best"]
        if main_run is None:
            main_run = start_run(cfg, size, tokenizer, device, training_seconds / 60)
        results["packing_isolates_examples"] = packing_isolates_examples(main_run.model, val_items, device)
        if not results["packing_isolates_examples"]:
            print(f"warning: transformers {transformers.__version__} lets packed examples see each other", flush=True)

        # training, for what is left of the training minutes
        left = training_seconds - (time.monotonic() - train_started)
        train_for(main_run, feed, max(0.0, left), cfg, val_items, pad_id, device, "train")
    finally:
        feed.close()
    results["train"] = {
        "size": "init-from" if cfg.init_from else main_run.size,
        "parameters": main_run.parameters,
        "val_loss": main_run.state.history[-1].get("val_loss") if main_run.state.history else None,
        "kept_val_loss": main_run.best_val_loss if main_run.best_weights is not None else None,
        "kept_step": main_run.best_step if main_run.best_weights is not None else None,
        **step_timing(main_run, cfg),
    }
    main_run.keep_best()
    model = main_run.model
    write_results()

    # the model, sharded, as it travels back
    staging = Path(tempfile.mkdtemp(prefix="oneshot-")) / "model"
    log = {"state": asdict(main_run.state), "config": _jsonable(cfg), "results": results}
    save_model(model, tokenizer, main_run.state.history, log, cfg.out, staging, cfg.max_shard_bytes)
    results["model_files"] = sorted(p.name for p in staging.iterdir())

    # held-out NLL, of the new model and of the shipped one, on the same device
    bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    if not heldout:
        skipped.append("held-out NLL: skipped, the pack has no held-out poems")
    elif clock.fits("held-out NLL", 15):
        results["heldout_nll"] = round(completion_loss(model, heldout, pad_id, device, bf16, 256), 4)
        if SHIPPED_MODEL.is_dir():
            shipped = AutoModelForCausalLM.from_pretrained(SHIPPED_MODEL, dtype=torch.float32).to(device)  # type: ignore[arg-type]  # transformers types to() through functools.wraps, unbound
            shipped_items = heldout_items(load_tokenizer(SHIPPED_MODEL), data.heldout)
            nll = completion_loss(shipped, shipped_items, shipped.config.pad_token_id, device, bf16, 256)
            results["heldout_nll_shipped"] = round(nll, 4)
            del shipped
    write_results()
    del model, main_run

    # the GPU backends on the model just trained
    if device.type != "cuda":
        skipped.append("GPU backends: skipped, no CUDA device")
    elif cfg.backends:
        results["backends"] = measure_backends(staging, cfg.backends, heldout[:500], clock)  # as bench/engine.py
    results["seconds"] = round(time.monotonic() - STARTED, 1)
    write_results()
    results["out_files"] = check_out_limits(cfg.out)
    write_results()
    check_out_limits(cfg.out)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("build/oneshot"), help="a folder written by engine.pack")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "build/oneshot-out")))
    defaults = OneshotConfig(data=Path(), out=Path())
    for name, value in asdict(defaults).items():
        if name in ("data", "out"):
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=value)
        elif isinstance(value, tuple):
            parser.add_argument(flag, default=",".join(value), help="comma-separated")
        elif name == "init_from":
            parser.add_argument(flag, type=Path, default=None, help="e.g. engine/weights/default")
        elif name == "max_steps":
            parser.add_argument(flag, type=int, default=None)
        else:
            parser.add_argument(flag, type=type(value), default=value)
    args = vars(parser.parse_args(argv))
    for name, value in asdict(defaults).items():
        if isinstance(value, tuple):
            args[name] = tuple(part for part in args[name].split(",") if part)
    results = oneshot(OneshotConfig(**args))
    summary = {k: results[k] for k in ("train", "heldout_nll", "heldout_nll_shipped", "skipped") if k in results}
    print(json.dumps(summary, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
