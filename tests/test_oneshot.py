"""The one-shot GPU run rehearsed on the CPU at tiny scale: packing the data, packing sequences,
a few steps, the sharded save, the limits on what comes back. Tests marked `gpu` run on a lent
GPU machine only (scripts/gpu-oneshot.sh runs them there)."""

import asyncio
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.oneshot import (
    OUT_MAX_BYTES,
    OneshotConfig,
    check_out_limits,
    flatten_items,
    oneshot,
    pack_sequences,
    packing_isolates_examples,
    shuffle_examples,
)
from engine.pack import couplets_from, load_packed, pack
from engine.train import new_model, read_jsonl

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: run on a lent GPU machine")


@pytest.fixture(scope="module")
def packed(built_corpus, tmp_path_factory) -> Path:
    """The fixture corpus packed, with five of its poems as the frozen held-out ones."""
    from engine.train import load_lexicon

    load_lexicon(built_corpus)
    folder = tmp_path_factory.mktemp("pack")
    ids = folder / "ids.txt"
    ids.write_text("\n".join(r["id"] for r in read_jsonl(built_corpus / "poems.jsonl")[:5]))
    pack(built_corpus, folder / "oneshot", heldout_ids=ids)
    return folder / "oneshot"


def test_pack_writes_what_training_needs(packed, built_corpus):
    manifest = json.loads((packed / "manifest.json").read_text())
    data = load_packed(packed)
    assert data.poems["train"] and all(set(p) == {"split", "form", "title", "lines"} for p in data.poems["train"])
    assert manifest["heldout_source"].startswith("frozen ids") and len(data.heldout) == manifest["counts"]["heldout"]
    # the couplets are made again from the poems, exactly as engine.corpus writes them
    expected = [
        {k: c[k] for k in ("split", "first", "second")}
        for c in read_jsonl(built_corpus / "couplets.jsonl")
        if c["split"] in ("train", "val")
    ]
    assert sorted(map(str, couplets_from(data.poems["train"] + data.poems["val"]))) == sorted(map(str, expected))
    assert "<plan>" in data.tokenizer_dir.joinpath("tokenizer.json").read_text()
    assert manifest["total_mb"] < 1
    # the extra text: the train poems of other forms, lines as the corpus holds them
    others = {
        tuple(r["lines"]): "ci" if r["form"].startswith("ci") else "other"
        for r in read_jsonl(built_corpus / "poems.jsonl")
        if r["split"] == "train" and r["form"] not in ("wujue", "qijue", "wulv", "qilv")
    }
    assert data.extra and {tuple(r["lines"]): r["form"] for r in data.extra} == others
    assert manifest["counts"]["extra"] == len(data.extra)


def _items():
    return [([2, 5, 6, 7, 8, 9], 3), ([2, 10, 11, 12], 2), ([2, 13, 14, 15, 16, 17, 18], 4), ([2, 19, 20], 1)]


def test_packing_fills_rows_and_masks_prompts():
    items = _items()  # 20 tokens
    ids, lengths, prompt_lengths = flatten_items(items)
    rows = pack_sequences(ids, lengths, prompt_lengths, seq_len=8, pad_id=0)
    assert rows.input_ids.shape == (3, 8) and rows.real_tokens == 20
    flat_ids, flat_labels, flat_positions = (
        t.flatten().tolist() for t in (rows.input_ids, rows.labels, rows.position_ids)
    )
    # back to back, no padding but at the end of the last row
    assert flat_ids[:20] == [t for example, _ in items for t in example] and flat_ids[20:] == [0] * 4
    # labels: -100 on each prompt and on the padding, the token itself elsewhere
    expected = [t if i >= prompt else -100 for example, prompt in items for i, t in enumerate(example)]
    assert flat_labels == expected + [-100] * 4
    # positions restart at each example (an example cut by a row goes on counting), and at the padding
    assert flat_positions == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 0, 1, 2, 3]


def test_shuffling_keeps_examples_whole():
    ids, lengths, prompt_lengths = flatten_items(_items())
    new_ids, new_lengths, new_prompts = shuffle_examples(ids, lengths, prompt_lengths, np.random.default_rng(3))
    starts = np.cumsum(new_lengths) - new_lengths
    shuffled = sorted((tuple(new_ids[s : s + n]), int(p)) for s, n, p in zip(starts, new_lengths, new_prompts))
    assert shuffled == sorted((tuple(example), prompt) for example, prompt in _items())


def test_packed_examples_do_not_see_each_other(packed):
    from engine.tokenizer import load_tokenizer

    model = new_model("tiny", load_tokenizer(packed / "tokenizer"))
    assert packing_isolates_examples(model, _items(), torch.device("cpu"))


@pytest.fixture(scope="module")
def rehearsal(packed, tmp_path_factory) -> Path:
    """engine.oneshot on the CPU: a scaling check, then a tiny model for a few steps, saved in
    shards of 1 MB so that its 1 MB of bf16 weights is split."""
    out = tmp_path_factory.mktemp("out")
    oneshot(
        OneshotConfig(
            data=packed,
            out=out,
            size="tiny",
            scaling=("tiny",),
            scaling_minutes=0.02,
            minutes=0.2,
            seq_len=128,
            batch_rows=4,
            max_steps=6,
            eval_every=3,
            warmup_steps=2,
            workers=0,
            max_shard_bytes=1_000_000,
            # the run's clock starts when engine.oneshot is imported (on the GPU machine, the process
            # start); in a test session that is collection time, minutes before this fixture runs
            deadline_minutes=120,
        )
    )
    return out


def test_rehearsal_saves_sharded_model_and_results(rehearsal, packed):
    from transformers import AutoModelForCausalLM

    from engine.model_card import training_rows
    from engine.tokenizer import load_tokenizer

    files = check_out_limits(rehearsal)
    shards = [name for name in files if name.endswith(".safetensors")]
    assert len(shards) >= 2 and all(files[name] <= 1_000_000 for name in shards)
    assert {"results.json", "loss.png", "model-meta.tar"} <= set(files)
    model_dir = rehearsal.parent / "model"
    model_dir.mkdir()
    for name in shards:
        (model_dir / name).write_bytes((rehearsal / name).read_bytes())
    with tarfile.open(rehearsal / "model-meta.tar") as archive:
        archive.extractall(model_dir, filter="data")
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tokenizer = load_tokenizer(model_dir)
    assert len(tokenizer) == model.config.vocab_size == len(load_tokenizer(packed / "tokenizer"))
    # the model card reads the run's log as it reads lianju train's
    assert training_rows(model_dir)["steps"].startswith("6 of 4 rows of 128 packed tokens")
    log = json.loads((model_dir / "train_log.json").read_text())
    assert log["state"]["step"] == 6 and any("val_loss" in h for h in log["state"]["history"])

    results = json.loads((rehearsal / "results.json").read_text())
    assert results["heldout_nll"] > 0 and results["data"]["heldout_poems"] == 5
    assert results["data"]["extra_poems"] == len(load_packed(packed).extra) > 0
    assert results["packing_isolates_examples"] is True
    assert results["scaling"]["tiny"]["val_loss"] > 0 and results["train"]["steps"] == 6
    # the weights kept are those of the lowest val loss seen, which the log holds
    val_losses = {h["step"]: h["val_loss"] for h in log["state"]["history"] if "val_loss" in h}
    assert results["train"]["kept_val_loss"] == min(val_losses.values())
    assert val_losses[results["train"]["kept_step"]] == results["train"]["kept_val_loss"]
    assert "GPU backends: skipped, no CUDA device" in results["skipped"]
    assert results["out_files"] == {k: v for k, v in files.items() if k != "results.json"} | {
        "results.json": results["out_files"]["results.json"]
    }


def test_limit_check_rejects_what_would_not_come_back(tmp_path):
    (tmp_path / "ok.json").write_text("{}")
    assert check_out_limits(tmp_path) == {"ok.json": 2}
    with open(tmp_path / "big.safetensors", "wb") as handle:
        handle.truncate(OUT_MAX_BYTES + 1)
    with pytest.raises(RuntimeError, match="big.safetensors is 16.0 MiB, over 16 MiB"):
        check_out_limits(tmp_path)
    (tmp_path / "big.safetensors").unlink()
    for i in range(8):
        (tmp_path / f"shard{i}").write_text("x")
    with pytest.raises(RuntimeError, match="9 files, at most 8"):
        check_out_limits(tmp_path)


def test_size_auto_needs_the_scaling_check(packed, tmp_path):
    with pytest.raises(ValueError, match="give --scaling"):
        oneshot(OneshotConfig(data=packed, out=tmp_path, size="auto"))


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("kind", ["cuda-bf16", "cuda-nf4", "cuda-int8"])
def test_cuda_backend_writes_a_poem_that_scans(kind):
    from engine.oneshot import SHIPPED_MODEL
    from engine.poet import Poet
    from engine.prosody import check

    async def write():
        poet = Poet(SHIPPED_MODEL, kind)
        try:
            return await poet.compose("月", form="qijue", seed=3, n_candidates=4)
        finally:
            await poet.close()

    poem = asyncio.run(write())
    report = check(poem.text, "qijue")
    assert report.format_ok and report.rhyme_ok and report.tone_ok_lenient, (poem.text, report.reasons)


def test_worker_processes_make_the_same_epoch(packed):
    """The GPU run makes epochs in spawned worker processes; they must be the epochs made in-process."""
    from engine.oneshot import EpochFeed

    settings = dict(data=packed, out=packed, seq_len=64, seed=7)
    inline = EpochFeed(OneshotConfig(**settings, workers=0), pad_id=0)
    pooled = EpochFeed(OneshotConfig(**settings, workers=1), pad_id=0, ahead=0)
    try:
        assert torch.equal(inline.epoch(0).input_ids, pooled.epoch(0).input_ids)
        assert torch.equal(inline.epoch(0).labels, pooled.epoch(0).labels)
        assert not torch.equal(inline.epoch(0).input_ids, inline.epoch(1).input_ids)  # fresh prompts each epoch
    finally:
        pooled.close()
