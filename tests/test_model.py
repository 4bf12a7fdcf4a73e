"""The model issue: tokenizer, training examples, tiny pre-training, resume, evaluation."""

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from engine import prompts
from engine.evaluate import evaluate
from engine.tokenizer import build_tokenizer, encode
from engine.train import load_lexicon, read_jsonl, train

LIANJU = Path(sys.executable).with_name("lianju")


def test_tokenizer_is_one_token_per_character_with_specials(tmp_path):
    tokenizer = build_tokenizer(["春眠不觉晓处处闻啼鸟"] * 3 + ["夜来风雨声"], coverage=1.0)
    special_ids = [tokenizer.convert_tokens_to_ids(token) for token in prompts.SPECIAL_TOKENS]
    assert special_ids == list(range(len(prompts.SPECIAL_TOKENS)))
    text = prompts.poem_prompt("wujue", ["春", "风雨"]) + prompts.poem_body(["春眠不觉晓", "处处闻啼鸟"]) + prompts.EOS
    ids = encode(tokenizer, text)
    assert len(ids) == len("春眠不觉晓，处处闻啼鸟。") + len("春、风雨") + 5  # bos poem wujue sep eos
    assert tokenizer.decode(ids) == text
    # traditional input is simplified before encoding; characters outside the vocabulary are <unk>
    assert encode(tokenizer, "夜來風雨聲") == encode(tokenizer, "夜来风雨声")
    assert encode(tokenizer, "龘")[0] == tokenizer.unk_token_id
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded.encode(text, add_special_tokens=False) == ids


def test_vocabulary_covers_the_requested_share():
    texts = ["月" * 900 + "花" * 99 + "龘"]
    assert "龘" not in build_tokenizer(texts, coverage=0.99).get_vocab()
    assert "龘" in build_tokenizer(texts, coverage=1.0).get_vocab()


def test_training_examples_keywords_occur_in_the_poem_or_title(built_corpus):
    records = [r for r in read_jsonl(built_corpus / "poems.jsonl") if r["form"] in ("wujue", "qijue", "wulv", "qilv")]
    lexicon = load_lexicon(built_corpus)
    rng = random.Random(0)
    seen_acrostic = seen_next = seen_plan = seen_bare = 0
    for _ in range(20):
        for record in records:
            for prompt, completion in prompts.training_examples(record, rng, lexicon):
                assert prompt.startswith(prompts.BOS) and prompt.endswith(prompts.SEP)
                assert completion.endswith(prompts.EOS)
                body = prompt[
                    prompt.index(">", prompt.index(prompts.FORM_TOKENS[record["form"]])) + 1 : -len(prompts.SEP)
                ]
                if prompts.PLAN in body:
                    # one keyword per line, in order, each found in its own line
                    seen_plan += 1
                    body, plan = body.split(prompts.PLAN)
                    keywords = plan.split(prompts.KEYWORD_JOIN)
                    assert len(keywords) == len(record["lines"])
                    assert all(keyword in line for keyword, line in zip(keywords, record["lines"])), plan
                elif prompts.TASK_POEM in prompt and not body:
                    seen_bare += 1  # the held-out NLL's prompt is still a training prompt
                if prompts.TASK_NEXT in prompt:
                    seen_next += 1
                    assert completion[: -len(prompts.EOS)] in record["lines"]
                elif body.startswith(prompts.ACROSTIC):
                    seen_acrostic += 1
                    assert body[len(prompts.ACROSTIC) :] == "".join(line[0] for line in record["lines"])
                else:
                    for keyword in filter(None, body.split(prompts.KEYWORD_JOIN)):
                        assert keyword in "".join(record["lines"]) or keyword in record["title"], keyword
    assert seen_acrostic and seen_next and seen_bare
    poems = sum(prompts.TASK_POEM in p for r in records for p, _ in prompts.training_examples(r, rng, lexicon))
    assert 0.6 < seen_plan / (20 * len(records)) < 0.9 and poems == len(records)


def test_the_extra_text_is_the_train_poems_of_other_forms(built_corpus):
    from engine.train import extra_text_records, poem_records

    records = poem_records(built_corpus)
    extra = extra_text_records(records)
    others = [r for r in records if r["form"] not in ("wujue", "qijue", "wulv", "qilv") and r["split"] == "train"]
    assert extra and [r["lines"] for r in extra] == [r["lines"] for r in others]
    assert [r["form"] for r in extra] == ["ci" if r["form"].startswith("ci:") else "other" for r in others]
    # an epoch holds them beside the 近体 poems, each poem's pieces under its own form
    from engine.train import make_examples

    epoch = make_examples([], [], random.Random(0), 0.3, load_lexicon(built_corpus), extra)
    pieces = sum(-(-len(r["lines"]) // prompts.EXTRA_PIECE_LINES) for r in extra)
    assert len(epoch) == pieces and all(p.startswith("<bos><poem><other>") or "<ci>" in p for p, _ in epoch)


def test_extra_text_is_cut_into_pieces_under_their_own_keywords():
    lines = [f"{'春江花月夜'[i % 5]}山{i:02d}水" for i in range(19)]  # 19 lines: pieces of 8, 8 and 3
    examples = prompts.extra_text_examples({"form": "other", "lines": lines}, random.Random(0))
    assert [len(completion.split("，")) + len(completion.split("。")) - 2 for _, completion in examples] == [8, 8, 3]
    assert "".join(completion.replace(prompts.EOS, "") for _, completion in examples) == prompts.poem_body(
        lines[:8]
    ) + prompts.poem_body(lines[8:16]) + prompts.poem_body(lines[16:])
    for prompt, completion in examples:
        assert prompt.startswith(prompts.BOS + prompts.TASK_POEM + "<other>") and prompts.PLAN not in prompt
        keywords = prompt[len(prompts.BOS + prompts.TASK_POEM + "<other>") : -len(prompts.SEP)]
        assert all(keyword in completion for keyword in filter(None, keywords.split(prompts.KEYWORD_JOIN)))
    # every token that tokenizers of earlier models hold keeps its id: <other> came last
    assert prompts.SPECIAL_TOKENS[-2:] == [prompts.PLAN, "<other>"]


def test_tiny_training_produces_a_loadable_model_that_generates(tiny_model):
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    prompt = tokenizer(prompts.poem_prompt("wujue", ["月"]), return_tensors="pt", add_special_tokens=False)
    torch.manual_seed(0)
    out = model.generate(
        **prompt, do_sample=True, max_new_tokens=12, min_new_tokens=12, pad_token_id=tokenizer.pad_token_id
    )
    written = tokenizer.decode(out[0, prompt["input_ids"].shape[1] :], skip_special_tokens=True)
    assert len(written) >= 6  # twelve tokens, at most a few of them special
    log = json.loads((tiny_model / "train_log.json").read_text())
    assert log["state"]["step"] == 12 and log["state"]["tokens_seen"] > 0
    losses = [h["val_loss"] for h in log["state"]["history"] if "val_loss" in h]
    assert len(losses) == 3 and losses[-1] < losses[0]  # it learned something
    assert (tiny_model / "loss.png").stat().st_size > 1000


def test_resumed_run_continues_from_step_and_optimizer_state(built_corpus, tmp_path, tiny_model, tiny_config):
    out = tmp_path / "run"
    assert train(tiny_config(built_corpus, out, stop_after=6), progress=False) is None
    state = json.loads((out / "checkpoint" / "state.json").read_text())["state"]
    assert state["step"] == 6
    # --size on a resume cannot change what the checkpoint is; the log says what it is
    resumed = train(tiny_config(built_corpus, out, size="small"), resume=True, progress=False)
    log = json.loads((resumed / "train_log.json").read_text())
    assert log["state"]["step"] == 12 and log["config"]["size"] == "tiny"
    # Bit-for-bit the same weights as the uninterrupted run: step, data position and the
    # optimizer's moments all came back (a fresh optimizer would drift).
    straight = AutoModelForCausalLM.from_pretrained(tiny_model.parent / "checkpoint").state_dict()
    continued = AutoModelForCausalLM.from_pretrained(out / "checkpoint").state_dict()
    for name, tensor in straight.items():
        assert torch.equal(tensor, continued[name]), name


def test_sigterm_checkpoints_and_resume_finishes(built_corpus, tmp_path):
    out = tmp_path / "run"
    command = [
        str(LIANJU),
        "train",
        "--size",
        "tiny",
        "--corpus",
        str(built_corpus),
        "--out",
        str(out),
        "--batch-size",
        "4",
        "--checkpoint-every",
        "100000",
        "--eval-every",
        "100000",
    ]
    process = subprocess.Popen([*command, "--max-steps", "1000000"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    for line in iter(lambda: process.stderr.read(80), ""):
        if "step/s" in line or "s/step" in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    step = json.loads((out / "checkpoint" / "state.json").read_text())["state"]["step"]
    assert step >= 1
    again = subprocess.run([*command, "--max-steps", "5"], capture_output=True, text=True)  # no --resume
    assert again.returncode == 2 and "--resume" in again.stderr  # the run's checkpoint is not overwritten
    assert json.loads((out / "checkpoint" / "state.json").read_text())["state"]["step"] == step
    done = subprocess.run([*command, "--max-steps", str(step + 2), "--resume"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((out / "model" / "train_log.json").read_text())["state"]["step"] == step + 2


def test_evaluate_reports_nll_and_sampling_rates(tiny_model, built_corpus, tmp_path):
    records = read_jsonl(built_corpus / "poems.jsonl")
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(r["id"] for r in records[:5]))
    report = evaluate(tiny_model, built_corpus, samples=4, ids_path=ids, progress=False)
    assert report.heldout_poems == len([r for r in records[:5] if r["form"] in ("wujue", "qijue", "wulv", "qilv")])
    assert report.heldout_source.startswith("frozen ids")
    assert 0 < report.heldout_nll < 20
    assert set(report.sampling) == {"wujue", "qijue", "wulv", "qilv"}
    for quality in report.sampling.values():
        assert quality.samples == 4
        assert 0 <= quality.shape_ok <= 1 and 0 <= quality.distinct_1 <= 1
    assert json.loads(report.to_json())["sampling"]["qilv"]["samples"] == 4


def test_time_budget_ends_the_run_and_exports(built_corpus, tmp_path, tiny_config):
    model_dir = train(tiny_config(built_corpus, tmp_path, max_steps=10**6, minutes=0.01), progress=False)
    state = json.loads((model_dir / "train_log.json").read_text())["state"]
    assert 0 < state["step"] < 10**6
    assert state["seconds"] >= 0.6
