"""Learning from ratings, engine side: selection, fine-tuning, gates, and swapping models."""

import asyncio
import random
import shutil
from typing import get_args

import pytest
import torch
from pydantic import ValidationError
from transformers import AutoModelForCausalLM

from bot.config import Settings
from engine.finetune import METHODS, RatedPoem, finetune, run_gates, select
from engine.poet import Poet
from engine.prosody import check
from engine.reader import LineReader, Reader, weights_digest
from engine.train import read_jsonl


def shuffled_poems(corpus, count, seed=0):
    """Poems of the fixture's 五绝 shape whose lines are shuffles of real lines: not in the corpus."""
    rng = random.Random(seed)
    records = [r for r in read_jsonl(corpus / "poems.jsonl") if r["form"] == "wujue"]
    poems = []
    for index in range(count):
        record = rng.choice(records)
        lines = ["".join(rng.sample(line, len(line))) for line in record["lines"]]
        poems.append(RatedPoem(index, lines, "wujue", "月", {user: 5 for user in range(1, 9)}))
    return poems


def test_selection_rules(built_corpus):
    # the exact set of corpus lines: the shipped Bloom filter's rare false positives would make
    # this test depend on luck
    corpus_lines = {line for r in read_jsonl(built_corpus / "poems.jsonl") for line in r["lines"]}
    good = shuffled_poems(built_corpus, 3)
    famous = [r for r in read_jsonl(built_corpus / "poems.jsonl") if r["form"] == "wujue"][0]
    poems = good + [
        RatedPoem(10, famous["lines"], "wujue", "月", {u: 5 for u in range(1, 9)}),  # copies the corpus
        RatedPoem(11, good[0].lines, "wujue", "月", {u: 5 for u in range(1, 9)}),  # duplicate
        RatedPoem(12, good[1].lines, "wujue", "月", {1: 5, 2: 5}),  # too few votes
        RatedPoem(13, good[2].lines, "wujue", "月", {u: 4 for u in range(1, 5)}),  # Bayesian mean below 4
        RatedPoem(14, ["春风", "秋月"], "wujue", "月", {u: 5 for u in range(1, 9)}),  # not a 五绝
        RatedPoem(15, good[0].lines, "wujue", "月", {u: 1 for u in range(1, 5)}),  # a negative
    ]
    selection = select(poems, corpus_lines)
    assert [p.id for p in selection.positives] == [0, 1, 2]
    assert [p.id for p in selection.negatives] == [15]
    assert selection.dropped == {
        "copies_the_corpus": 1,
        "duplicate": 1,
        "too_few_votes": 1,
        "rating_below_threshold": 1,
        "not_a_regulated_poem": 1,
    }


def test_one_enthusiast_cannot_lift_poems_alone(built_corpus):
    # user 99 gives every poem 5 stars; each poem also has three raters of its own, who give 3
    # stars, except on poem 0, which they love too
    poems = [
        RatedPoem(
            p.id, p.lines, p.form, p.title, {99: 5, **{1000 + 3 * p.id + k: 5 if p.id == 0 else 3 for k in range(3)}}
        )
        for p in shuffled_poems(built_corpus, 40)
    ]
    uncapped = select(poems, None, min_mean=3.2, user_cap=1.0)
    capped = select(poems, None, min_mean=3.2, user_cap=0.05)
    assert len(uncapped.positives) == 40  # at full weight, user 99 lifts them all
    assert [p.id for p in capped.positives] == [0]
    assert capped.dropped["rating_below_threshold"] == 39


def test_finetune_then_gates_report_every_gate(tiny_model, built_corpus, tmp_path):
    feedback = shuffled_poems(built_corpus, 24)
    counts = finetune(tiny_model, tmp_path / "candidate", feedback, built_corpus, lr=3e-3, progress=False)
    assert counts["feedback_poems"] == 24 and counts["corpus_poems"] >= min(72, 1) and counts["steps"] > 0
    AutoModelForCausalLM.from_pretrained(tmp_path / "candidate")
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(r["id"] for r in read_jsonl(built_corpus / "poems.jsonl")[:10]))
    report = run_gates(tiny_model, tmp_path / "candidate", built_corpus, feedback, samples=4, ids_path=ids)
    names = {gate.name for gate in report.gates}
    assert names == {"heldout_nll", "shape_ok", "distinct_2", "copy_rate", "feedback_nll"}
    feedback_gate = next(g for g in report.gates if g.name == "feedback_nll")
    assert feedback_gate.candidate < feedback_gate.active and feedback_gate.passed
    assert report.to_dict()["passed"] == report.passed


def test_a_candidate_trained_on_garbage_fails_a_gate(tiny_model, built_corpus, tmp_path):
    garbage = [RatedPoem(i, ["一一一一一"] * 4, "wujue", "一", {u: 5 for u in range(1, 9)}) for i in range(24)]
    finetune(tiny_model, tmp_path / "garbage", garbage, built_corpus, epochs=8, lr=3e-2, corpus_ratio=0, progress=False)
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(r["id"] for r in read_jsonl(built_corpus / "poems.jsonl")[:10]))
    report = run_gates(
        tiny_model, tmp_path / "garbage", built_corpus, shuffled_poems(built_corpus, 4), samples=4, ids_path=ids
    )
    assert not report.passed
    assert not next(g for g in report.gates if g.name == "heldout_nll").passed


def test_no_feedback_is_refused(tiny_model, built_corpus, tmp_path):
    with pytest.raises(ValueError, match="no rated poems"):
        finetune(tiny_model, tmp_path / "c", [], built_corpus, progress=False)


def test_swap_serves_the_new_model_and_lets_requests_in_flight_finish(tiny_model, built_corpus, tmp_path):
    finetune(tiny_model, tmp_path / "v1", shuffled_poems(built_corpus, 8), built_corpus, progress=False)

    async def scenario():
        poet = Poet(tiny_model, "cpu-fp32", version="v0")
        in_flight = asyncio.create_task(poet.compose("月", form="wujue", seed=1, n_candidates=2))
        await asyncio.sleep(0)  # the request has taken its rows to v0's batcher
        await poet.swap(tmp_path / "v1", "v1")
        before = await in_flight
        after = await poet.compose("月", form="wujue", seed=1, n_candidates=2)
        await poet.close()
        return before, after

    before, after = asyncio.run(scenario())
    assert before.model_version == "v0" and after.model_version == "v1"
    assert check(after.text, "wujue").format_ok


def test_lora_fine_tune_merges_into_a_plain_model(tiny_model, built_corpus, tmp_path):
    counts = finetune(
        tiny_model,
        tmp_path / "lora",
        shuffled_poems(built_corpus, 8),
        built_corpus,
        lr=1e-2,
        method="lora",
        progress=False,
    )
    assert counts["method"] == "lora"
    base = AutoModelForCausalLM.from_pretrained(tiny_model).state_dict()
    tuned = AutoModelForCausalLM.from_pretrained(tmp_path / "lora").state_dict()
    assert tuned.keys() == base.keys()  # adapters folded in: an ordinary from_pretrained folder
    changed = [name for name in base if not (base[name] == tuned[name]).all()]
    assert any("q_proj" in name for name in changed)
    assert not any("norm" in name for name in changed)  # only the adapted linear layers moved


def test_qlora_needs_a_gpu_and_unknown_methods_are_refused(tiny_model, built_corpus, tmp_path):
    import torch

    feedback = shuffled_poems(built_corpus, 4)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="qlora needs a CUDA GPU"):
            finetune(tiny_model, tmp_path / "q", feedback, built_corpus, method="qlora", progress=False)
    with pytest.raises(ValueError, match="unknown fine-tune method"):
        finetune(tiny_model, tmp_path / "x", feedback, built_corpus, method="adapters", progress=False)


def test_a_fine_tune_carries_its_bases_readers(tiny_model, built_corpus, tmp_path):
    base = tmp_path / "base"
    shutil.copytree(tiny_model, base)
    width = AutoModelForCausalLM.from_pretrained(base).config.hidden_size
    Reader(torch.arange(2 * width, dtype=torch.float32), weights_digest(base), choices=7, l2=1.0).save(base)
    line_weights = torch.arange(2 * width + 6, dtype=torch.float32)
    features = torch.zeros(2 * width + 6), torch.ones(2 * width + 6)
    LineReader(line_weights, -2.0, *features, weights_digest(base), lines=11, l2=0.03).save(base)
    finetune(base, tmp_path / "tuned", shuffled_poems(built_corpus, 8), built_corpus, progress=False)
    carried = Reader.load(tmp_path / "tuned")
    assert carried is not None and carried.carried_from == weights_digest(base) != carried.weights_sha256
    assert torch.equal(carried.weights, torch.arange(2 * width, dtype=torch.float32)) and carried.choices == 7
    carried_lines = LineReader.load(tmp_path / "tuned")
    assert carried_lines is not None and carried_lines.carried_from == weights_digest(base)
    assert torch.equal(carried_lines.weights, line_weights) and carried_lines.lines == 11
    # a base without a reader gives none
    finetune(tiny_model, tmp_path / "plain", shuffled_poems(built_corpus, 8), built_corpus, progress=False)
    assert Reader.load(tmp_path / "plain") is None and LineReader.load(tmp_path / "plain") is None


def test_the_setting_takes_exactly_the_methods_there_are(monkeypatch):
    assert get_args(Settings.model_fields["finetune_method"].annotation) == METHODS
    monkeypatch.setenv("LIANJU_FINETUNE_METHOD", "bogus")
    with pytest.raises(ValidationError, match="finetune_method"):
        Settings(_env_file=None)
