"""Aligning the model to readers' marks (engine/preference.py, `lianju align`, bench/align.py)."""

import json
import random

import pytest
import torch
from bench_scripts import load_bench_script
from transformers import AutoModelForCausalLM
from typer.testing import CliRunner

from bot.cli import app
from engine import prompts
from engine.model_card import FACTS
from engine.preference import (
    AlignConfig,
    Choice,
    MarkedPoem,
    align,
    align_to_choices,
    all_counted_log_probs,
    completion_counted,
    counted_poem,
    dpo_loss,
    kto_loss,
    line_examples,
    read_choices,
    read_marks,
)
from engine.reader import LINE_READER_FILE, weights_digest
from engine.tokenizer import load_tokenizer
from engine.train import read_jsonl, tokenize


def plain(output: str) -> str:
    """A CLI's output as one line of words: rich wraps a message inside its box wherever the terminal's width
    (and the length of the paths in it) falls, with the box's borders between the pieces."""
    return " ".join(output.replace("│", " ").split())


def test_kto_pulls_each_kind_its_way_and_saturates():
    passed, failed = torch.tensor([True]), torch.tensor([False])
    # a passed line made likelier costs less than one made less likely; a failed line the other way round
    assert kto_loss(torch.tensor([1.0]), passed, 1.0, 1.0) < kto_loss(torch.tensor([-1.0]), passed, 1.0, 1.0)
    assert kto_loss(torch.tensor([-1.0]), failed, 1.0, 1.0) < kto_loss(torch.tensor([1.0]), failed, 1.0, 1.0)
    # far from the reference the pull fades (a sigmoid): no line is driven to nothing
    ratios = torch.tensor([-20.0], requires_grad=True)
    kto_loss(ratios, failed, 1.0, 1.0).backward()
    assert ratios.grad is not None and abs(float(ratios.grad)) < 1e-6
    # the weight of failed lines scales only them
    both = torch.tensor([0.5, 0.5])
    kinds = torch.tensor([True, False])
    light, heavy = kto_loss(both, kinds, 1.0, 1.0), kto_loss(both, kinds, 1.0, 3.0)
    assert float(heavy - light) == pytest.approx(float(1 - torch.sigmoid(torch.tensor(-0.5))), rel=1e-5)


def test_dpo_pulls_the_chosen_poem_up_against_the_other():
    chosen, rejected = torch.tensor([0.5], requires_grad=True), torch.tensor([0.5], requires_grad=True)
    dpo_loss(chosen, rejected, 0.1).backward()
    # the chosen poem's log-ratio pulled up, the other's down, equally
    assert chosen.grad is not None and rejected.grad is not None
    assert float(chosen.grad) < 0 < float(rejected.grad) and float(chosen.grad) == pytest.approx(-float(rejected.grad))
    # only the difference counts, and a pair already far apart is left nearly alone
    assert float(dpo_loss(torch.tensor([3.0]), torch.tensor([1.0]), 0.1)) == pytest.approx(
        float(dpo_loss(torch.tensor([0.0]), torch.tensor([-2.0]), 0.1))
    )
    assert float(dpo_loss(torch.tensor([200.0]), torch.tensor([0.0]), 0.1)) < 1e-6


def test_a_poem_is_counted_as_the_bot_prompts_for_it_without_its_rhyme_characters(tiny_model, built_corpus):
    tokenizer = load_tokenizer(tiny_model)
    lines = next(r["lines"] for r in read_jsonl(built_corpus / "poems.jsonl") if r["form"] == "wujue")
    ids, counted = counted_poem(tokenizer, "月", "wujue", lines)
    assert tokenizer.decode(ids) == prompts.poem_prompt("wujue", ["月"]) + prompts.poem_body(lines)
    unrhymed = lines[0] + lines[1][:-1] + lines[2] + lines[3][:-1]
    assert "".join(tokenizer.decode([i]) for i, c in zip(ids, counted) if c) == unrhymed


def test_align_to_choices_makes_the_chosen_poems_likelier_than_the_others(tiny_model, built_corpus, tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    for path in tiny_model.iterdir():
        if path.is_file():
            (base / path.name).write_bytes(path.read_bytes())
    # a model aligned before keeps that line of its card
    facts = json.loads((base / FACTS).read_text()) if (base / FACTS).is_file() else {}
    facts.setdefault("training", {})["alignment"] = "aligned to readers' marks (KTO) before"
    (base / FACTS).write_text(json.dumps(facts))
    # the fixture's poems in pairs of one form, the first of each chosen
    choices = []
    for form in ("wujue", "qijue", "wulv", "qilv"):
        records = [r for r in read_jsonl(built_corpus / "poems.jsonl") if r["form"] == form]
        choices += [Choice("月", form, a["lines"], b["lines"]) for a, b in zip(records[::2], records[1::2])]
    assert len(choices) >= 8
    summary = align_to_choices(
        base,
        tmp_path / "preferred",
        choices,
        built_corpus,
        AlignConfig(steps=30, lr=3e-3, batch_size=8, corpus_batch_size=4, beta=0.1),
        progress=False,
    )
    assert summary["choices"] == len(choices) and summary["poems"] == 2 * len(choices)

    def margins(model_dir):
        tokenizer = load_tokenizer(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
        items = [counted_poem(tokenizer, c.theme, c.form, p) for c in choices for p in (c.chosen, c.rejected)]
        log_probs = all_counted_log_probs(model, items, tokenizer.pad_token_id).view(-1, 2)  # (N, 2)
        return log_probs[:, 0] - log_probs[:, 1]

    moved = margins(tmp_path / "preferred") - margins(base)
    assert (moved > 0).float().mean() >= 0.75 and moved.mean() > 1.0
    card = (tmp_path / "preferred" / "README.md").read_text()
    assert "aligned to readers' marks (KTO) before; then aligned to readers' choices" in card
    assert f"{len(choices)} choices between {2 * len(choices)} poems" in card


CHOICE = {
    "theme": "月",
    "form": "wujue",
    "chosen": ["明月照高楼", "清光满玉钩", "月落乌啼处", "霜天客未眠"],
    "rejected": ["明月照高楼", "清光满玉钩", "月色满江楼", "霜天客未眠"],
}


@pytest.mark.parametrize(
    "bad, message",
    [
        ("{not json", ":2: not a choice"),
        ({**CHOICE, "rejected": CHOICE["chosen"]}, ":2: the chosen and the rejected poem are the same"),
        ({**CHOICE, "form": "qijue"}, ":2: its lines are not a qijue"),
        ({**CHOICE, "rejected": ["明月", "🌙🌙🌙🌙🌙", "", None]}, ":2: its lines are not a wujue"),
        ({"theme": "月", "form": "wujue"}, ":2: not a choice"),
        ({**CHOICE, "theme": "月" * 200}, ":2: the theme is longer than a request's"),
    ],
)
def test_bad_choices_are_refused_naming_the_line(tmp_path, bad, message):
    with pytest.raises(ValueError, match=message):
        read_choices(_write(tmp_path / "choices.jsonl", [CHOICE, bad]))
    assert read_choices(_write(tmp_path / "one.jsonl", [CHOICE, ""]))[0].rejected[2] == "月色满江楼"
    with pytest.raises(ValueError, match="holds no choices"):
        read_choices(_write(tmp_path / "empty.jsonl", [""]))


def test_line_examples_keep_the_lines_readers_agreed_on_as_generation_writes_them():
    poem = MarkedPoem("月", "wujue", ["明月照高楼", "清光满玉钩", "月落乌啼处", "霜天客未眠"], [0.0, 1 / 3, 0.5, 0.0])
    examples = line_examples([poem])
    # line 2 (one reader of three) teaches nothing either way; line 3 (one of two) failed; line 4 rhymes, and is
    # learnt up to its rhyme character, which generation draws from the rhyme group
    assert [(line, wanted) for _, line, wanted in examples] == [
        ("明月照高楼，", True),
        ("月落乌啼处，", False),
        ("霜天客未", True),
    ]
    prompt = examples[1][0]
    assert prompt == prompts.poem_prompt("wujue", ["月"]) + "明月照高楼，清光满玉钩。"


def _write(path, rows):
    path.write_text(
        "".join((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n" for row in rows)
    )
    return path


GOOD = {
    "theme": "月",
    "form": "wujue",
    "lines": ["明月照高楼", "清光满玉钩", "月落乌啼处", "霜天客未眠"],
    "failing": [0, 0, 1, 0],
}


@pytest.mark.parametrize(
    "bad, message",
    [
        ("{not json", ":2: not a marked poem"),
        ({**GOOD, "failing": [0, 0, 1]}, ":2: failing needs one share"),
        ({**GOOD, "failing": [0, 0, 2, 0]}, ":2: failing needs one share"),
        ({**GOOD, "failing": ["x", 0, 0, 0]}, ":2: failing needs one share"),
        ({**GOOD, "form": "qijue"}, ":2: its lines are not a qijue"),
        ({**GOOD, "form": "ci"}, ":2: its lines are not a ci"),
        ({**GOOD, "lines": ["明月", "🌙🌙🌙🌙🌙", "", None]}, ":2: its lines are not a wujue"),
        ({"theme": "月"}, ":2: not a marked poem"),
        ("[1, 2]", ":2: not a marked poem"),
        ({**GOOD, "theme": "月" * 200}, ":2: the theme is longer than a request's"),
    ],
)
def test_bad_marks_are_refused_naming_the_line(tmp_path, bad, message):
    with pytest.raises(ValueError, match=message):
        read_marks(_write(tmp_path / "marks.jsonl", [GOOD, bad]))


def test_unreadable_or_empty_marks_are_refused(tmp_path):
    assert read_marks(_write(tmp_path / "one.jsonl", [GOOD, ""]))[0].failing == [0, 0, 1, 0]
    with pytest.raises(ValueError, match="holds no marked poems"):
        read_marks(_write(tmp_path / "empty.jsonl", ["", "  "]))
    with pytest.raises(ValueError, match="cannot read"):
        read_marks(tmp_path)  # a folder
    (tmp_path / "binary.jsonl").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValueError, match="as UTF-8"):
        read_marks(tmp_path / "binary.jsonl")


def _marked(corpus, count, seed=0):
    """Fixture quatrains with their last line marked failing by every reader and the others passed."""
    records = [r for r in read_jsonl(corpus / "poems.jsonl") if r["form"] in ("wujue", "qijue")]
    rng = random.Random(seed)
    return [MarkedPoem("月", r["form"], r["lines"], [0.0, 0.0, 0.0, 1.0]) for r in rng.sample(records, count)]


def _line_log_probs(model_dir, examples):
    tokenizer = load_tokenizer(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    items = [
        completion_counted(*item) for item in tokenize(tokenizer, [(prompt, line) for prompt, line, _ in examples])
    ]
    return all_counted_log_probs(model, items, tokenizer.pad_token_id)


def test_align_makes_failed_lines_less_likely_than_passed_ones(tiny_model, built_corpus, tmp_path):
    marks = _marked(built_corpus, 12)
    summary = align(
        tiny_model,
        tmp_path / "aligned",
        marks,
        built_corpus,
        AlignConfig(steps=30, lr=3e-3, batch_size=16, corpus_batch_size=4),
        progress=False,
    )
    assert summary["lines_passed"] == 36 and summary["lines_failed"] == 12
    examples = line_examples(marks)
    change = _line_log_probs(tmp_path / "aligned", examples) - _line_log_probs(tiny_model, examples)
    passed = torch.tensor([wanted for _, _, wanted in examples])
    assert change[~passed].mean() < change[passed].mean() - 0.5
    card = (tmp_path / "aligned" / "README.md").read_text()
    assert "aligned to readers' marks" in card and "36 lines readers passed and 12 they failed" in card


def test_align_needs_both_kinds_of_line(tiny_model, built_corpus, tmp_path):
    every_line_passed = [MarkedPoem(p.theme, p.form, p.lines, [0.0] * 4) for p in _marked(built_corpus, 3)]
    with pytest.raises(ValueError, match="lines readers passed and lines they failed"):
        align(tiny_model, tmp_path / "x", every_line_passed, built_corpus, progress=False)


def test_an_aligned_model_carries_its_bases_readers(tiny_model, built_corpus, tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    for path in tiny_model.iterdir():
        if path.is_file():
            (base / path.name).write_bytes(path.read_bytes())
    (base / LINE_READER_FILE).write_text(json.dumps({"weights_sha256": weights_digest(base), "bias": 0.0}))
    align(
        base,
        tmp_path / "aligned",
        _marked(built_corpus, 4),
        built_corpus,
        AlignConfig(steps=1, batch_size=4, corpus_batch_size=2),
        progress=False,
    )
    carried = json.loads((tmp_path / "aligned" / LINE_READER_FILE).read_text())
    assert carried["weights_sha256"] == weights_digest(tmp_path / "aligned")
    assert carried["carried_from"] == weights_digest(base)


def test_cli_align_refuses_bad_input_without_a_traceback(tiny_model, built_corpus, tmp_path):
    marks = _write(tmp_path / "marks.jsonl", [{**GOOD, "form": "qilv"}])
    runner = CliRunner()
    common = ["--model", str(tiny_model), "--corpus", str(built_corpus)]
    for args, said in [
        ([str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o1"), *common], "cannot read"),
        ([str(marks), "--out", str(tmp_path / "o2"), *common], "its lines are not a qilv"),
        (
            [str(marks), "--out", str(tmp_path / "o3"), "--model", str(tmp_path), "--corpus", str(built_corpus)],
            "is not a model folder",
        ),
        ([str(marks), "--out", str(tmp_path), *common], "is not empty"),
        ([str(marks), "--out", str(marks), *common], "is not empty (or not a folder)"),
        ([str(marks), "--out", str(tmp_path / "o4"), "--corpus", str(tmp_path / "nothing")], "no corpus at"),
        ([str(marks), "--choices", "--out", str(tmp_path / "o5"), *common], ":1: not a choice"),
    ]:
        result = runner.invoke(app, ["align", *args])
        assert result.exit_code == 2, result.output
        assert said in plain(result.output) and "Traceback" not in result.output


def test_bench_align_exports_marks_and_keeps_a_fifth_apart(tmp_path, monkeypatch):
    bench_align = load_bench_script("align")
    for name in ("s1", "s2", "s3", "s4", "s5", "s6", "s7"):
        sheet = tmp_path / "panels" / name
        sheet.mkdir(parents=True)
        (sheet / "lines_key.json").write_text(
            json.dumps({"L001": {k: GOOD[k] for k in ("theme", "form", "lines")}}, ensure_ascii=False)
        )
        (sheet / f"flags-{name}.jsonl").write_text(json.dumps({"id": "L001", "bad": [3]}) + "\n")
    monkeypatch.setattr(bench_align, "PANELS", tmp_path / "panels")
    bench_align.marks(tmp_path / "all.jsonl", None)
    assert [p.failing for p in read_marks(tmp_path / "all.jsonl")] == [[0.0, 0.0, 1.0, 0.0]] * 7
    bench_align.marks(tmp_path / "train.jsonl", tmp_path / "held.jsonl")
    # which sheets are apart depends only on their names: of these, s7 (crc32 % 5 == 0)
    assert len(read_marks(tmp_path / "train.jsonl")) == 6 and len(read_marks(tmp_path / "held.jsonl")) == 1
    bench_align.marks(tmp_path / "some.jsonl", None, only="s[12]")
    assert len(read_marks(tmp_path / "some.jsonl")) == 2
    runner = CliRunner()
    refused = runner.invoke(bench_align.app, ["marks", "--out", str(tmp_path / "x.jsonl"), "--only", "nothing*"])
    assert refused.exit_code == 2 and "matches" in plain(refused.output) and not (tmp_path / "x.jsonl").exists()
    missing = str(tmp_path / "no-model")
    refused = runner.invoke(bench_align.app, ["check", "--base", missing, "--aligned", missing, "--marks", missing])
    assert refused.exit_code == 2 and "does not exist" in plain(refused.output)
    assert refused.exception.__class__ is SystemExit


def test_cli_aligns_to_choices(tiny_model, built_corpus, tmp_path):
    choices = _write(tmp_path / "choices.jsonl", [CHOICE])
    args = ["align", str(choices), "--choices", "--out", str(tmp_path / "out"), "--steps", "2"]
    result = CliRunner().invoke(app, [*args, "--model", str(tiny_model), "--corpus", str(built_corpus)])
    assert result.exit_code == 0, result.output
    assert "aligned on 1 choices between 2 poems" in plain(result.output)
    assert "β 0.1" in (tmp_path / "out" / "README.md").read_text()  # the choices' default, not the marks' 1


def test_bench_align_exports_choices_and_keeps_a_fifth_apart(tmp_path, monkeypatch):
    bench_align = load_bench_script("align")
    one, other = "，".join(CHOICE["chosen"]) + "。", "，".join(CHOICE["rejected"]) + "。"
    for name in ("s1", "s2", "s3", "s4", "s5", "s6", "s7"):
        panel = tmp_path / "panels" / name
        panel.mkdir(parents=True)
        (panel / "pairs.md").write_text(
            f"# Which poem is better?\n\n- Q001　题：月\n  1. {one}\n  2. {other}\n"
            f"- Q002　题：月\n  1. {one}\n  2. {one}\n",  # one poem twice: nothing to learn
            encoding="utf-8",
        )
        answers = [json.dumps({"id": "Q001", "better": 2}), json.dumps({"id": "Q002", "better": 1})]
        (panel / "pair-ratings-x.jsonl").write_text("\n".join(answers) + "\n")
    monkeypatch.setattr(bench_align, "PANELS", tmp_path / "panels")
    bench_align.choices(tmp_path / "all.jsonl", None)
    exported = read_choices(tmp_path / "all.jsonl")
    assert exported == [Choice("月", "wujue", CHOICE["rejected"], CHOICE["chosen"])] * 7
    bench_align.choices(tmp_path / "train.jsonl", tmp_path / "held.jsonl")
    assert len(read_choices(tmp_path / "train.jsonl")) == 6 and len(read_choices(tmp_path / "held.jsonl")) == 1


def test_bench_line_sheets_compares_two_sets_by_request(tmp_path):
    line_sheets = load_bench_script("line_sheets")
    poems = [dict(GOOD, seed=seed) for seed in (1, 2)]  # a quatrain: lines 2 and 4 rhyme
    for side, marks in (("a", [[], [2]]), ("b", [[1, 2], [2, 4]])):
        line_sheets.write_sheet(tmp_path / f"{side}1", poems)
        answers = [json.dumps({"id": f"L{i:03d}", "bad": bad}) for i, bad in enumerate(marks, 1)]
        (tmp_path / f"{side}1" / f"flags-{side}x.jsonl").write_text("\n".join(answers) + "\n")
    # a second rater of side a's sheet, left out by --raters-a
    (tmp_path / "a1" / "flags-other.jsonl").write_text(json.dumps({"id": "L001", "bad": [1, 2, 3, 4]}) + "\n")
    shares = line_sheets.marked_shares(tmp_path, "a*", "flags-a?.jsonl")
    assert shares == {(GOOD["theme"], GOOD["form"], 1): (0.0, 0.0), (GOOD["theme"], GOOD["form"], 2): (0.25, 0.5)}
    both = line_sheets.marked_shares(tmp_path, "a*", "flags-*.jsonl")
    assert both[(GOOD["theme"], GOOD["form"], 1)] == (0.5, 0.5)  # the mean of its two raters
    runner = CliRunner()
    args = ["compare", "a*", "b*", "--raters-a", "flags-a?.jsonl", "--panels", str(tmp_path)]
    result = runner.invoke(line_sheets.app, args)
    assert result.exit_code == 0, result.output
    assert "B: 2 poems, 50.0% of lines marked (rhyming lines 75.0%)" in result.output
    assert "B - A over 2 shared requests: +0.375" in result.output  # (0.5 - 0) and (0.5 - 0.25)
    refused = runner.invoke(line_sheets.app, ["compare", "a*", "none*", "--panels", str(tmp_path)])
    assert refused.exit_code == 2 and "side B" in plain(refused.output) and "Traceback" not in refused.output
