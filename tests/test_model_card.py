"""The shipped model folder is a model a transformers user can load and use as it is, and every folder the
project writes is finished the same way (engine/model_card.py)."""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest
import yaml
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig
from typer.testing import CliRunner

from bot.cli import app
from engine import prompts
from engine.forms import JINTI_FORMS
from engine.model_card import CARD, LICENSE, MAX_NEW_TOKENS, OLD_CARD, finish_model_folder
from engine.sampling import SamplingParams

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "engine" / "weights" / "default"


def front_matter_and_body(card: str) -> tuple[dict, str]:
    match = re.match(r"---\n(.*?)\n---\n(.*)", card, re.S)
    assert match, "the card opens with YAML front matter between --- lines"
    return yaml.safe_load(match.group(1)), match.group(2)


def usage_snippet(card: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", card, re.S)
    assert len(blocks) == 1, "the card has one python block, its usage snippet (the 4.x check runs it)"
    return blocks[0]


def run_snippet(card: str, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", usage_snippet(card)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def a_prompt(tokenizer) -> str:
    """A prompt with every kind of control token this tokenizer knows."""
    plan = ["白日", "黄河", "千里", "层楼"] if prompts.PLAN in tokenizer.get_vocab() else None
    return prompts.poem_prompt("wujue", acrostic="白黄欲更", plan=plan)


def assert_loads_and_round_trips(folder: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    prompt = a_prompt(tokenizer)
    ids = tokenizer(prompt, add_special_tokens=False).input_ids
    assert tokenizer.decode(ids) == prompt
    assert ids[:3] == tokenizer.convert_tokens_to_ids([prompts.BOS, prompts.TASK_POEM, "<wujue>"])
    assert tokenizer.model_max_length == model.config.max_position_embeddings
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id) == (
        model.config.bos_token_id,
        model.config.eos_token_id,
        model.config.pad_token_id,
    )
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    # what transformers 4.5x needs as well: its class name, and the special tokens under the key it reads as a list
    assert settings["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert isinstance(settings["additional_special_tokens"], list)
    assert not isinstance(settings.get("extra_special_tokens", {}), list)
    assert settings["model_input_names"] == ["input_ids", "attention_mask"]


def test_shipped_folder_loads_and_its_tokenizer_round_trips_control_tokens():
    assert_loads_and_round_trips(SHIPPED)
    assert AutoTokenizer.from_pretrained(SHIPPED).model_max_length == 128
    assert not (SHIPPED / OLD_CARD).exists()


def test_generation_config_holds_the_engine_sampling_defaults():
    generation = GenerationConfig.from_pretrained(SHIPPED)
    defaults = {f.name: f.default for f in fields(SamplingParams)}
    assert generation.do_sample is True
    for name in ("temperature", "top_k", "top_p", "repetition_penalty"):
        assert getattr(generation, name) == defaults[name], name
    config = json.loads((SHIPPED / "config.json").read_text())
    assert (generation.bos_token_id, generation.eos_token_id, generation.pad_token_id) == (
        config["bos_token_id"],
        config["eos_token_id"],
        config["pad_token_id"],
    )
    qilv = JINTI_FORMS["qilv"]
    assert generation.max_new_tokens == MAX_NEW_TOKENS == qilv.line_count * (qilv.chars_per_line + 1) + 1
    assert config["rope_theta"] == config["rope_parameters"]["rope_theta"]  # what 4.x reads


def test_card_front_matter_and_the_numbers_measured_from_the_folder():
    card = (SHIPPED / CARD).read_text()
    meta, body = front_matter_and_body(card)
    license_of_the_code = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert LICENSE == license_of_the_code.lower() == meta["license"]
    assert meta["language"] == ["zh"]
    assert (meta["library_name"], meta["pipeline_tag"]) == ("transformers", "text-generation")
    assert meta["tags"]
    tokenizer = AutoTokenizer.from_pretrained(SHIPPED)
    parameters = AutoModelForCausalLM.from_pretrained(SHIPPED).num_parameters()
    assert f"| vocabulary | {len(tokenizer):,} tokens" in body
    assert f"| parameters | {parameters:,} " in body
    assert "7,139" not in body  # the vocabulary the old card claimed
    # the card states what the shipped model scores and how it was trained, from its stored facts
    facts = json.loads((SHIPPED / "card_facts.json").read_text())
    evaluation = facts["evaluation"]
    qilv = evaluation["sampling"]["qilv"]
    for fact in (
        f"{evaluation['heldout_nll']:.3f} nats per token",
        f"| qilv | {qilv['shape_ok']:.1%} | {qilv['rhyme_ok']:.1%} | {qilv['tone_ok']:.1%} |",
        facts["training_notes"].splitlines()[2].strip(),
        *facts["training"].values(),
    ):
        assert fact in body, fact
    for task in ("poem", "acrostic", "next line", "couplet"):
        assert f"    {task} " in body, task


def test_card_usage_snippet_runs_and_writes_a_poem():
    output = run_snippet((SHIPPED / CARD).read_text(), ROOT)
    tokens, poem = output.strip().splitlines()[-2:]
    assert "'<poem>'" in tokens and "'<sep>'" in tokens
    assert re.search(r"[\u4e00-\u9fff]{5}", poem) and "<" not in poem


def test_the_trainer_finishes_its_export(tiny_model):
    assert (tiny_model / CARD).is_file() and not (tiny_model / OLD_CARD).exists()
    assert_loads_and_round_trips(tiny_model)


def test_finish_model_folder_makes_a_saved_folder_loadable_and_carded(tiny_model, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder)
    for name in (CARD, "card_facts.json", "generation_config.json"):
        (folder / name).unlink(missing_ok=True)
    AutoTokenizer.from_pretrained(folder).save_pretrained(folder)  # as transformers 5.x writes it
    (folder / OLD_CARD).write_text("an old card")
    report = {
        "heldout_nll": 7.125,
        "heldout_poems": 12,
        "heldout_source": "test split",
        "settings": {},
        "sampling": {
            "wujue": {
                "shape_ok": 0.5,
                "rhyme_ok": 0.0,
                "tone_ok": 0.25,
                "copied_lines": 0.0,
                "distinct_1": 0.5,
                "distinct_2": 0.9,
                "examples": ["春风。"],
            }
        },
    }

    finish_model_folder(folder, {"evaluation": report, "limits": ["Twelve steps: a test model."]})

    assert_loads_and_round_trips(folder)
    assert not (folder / OLD_CARD).exists()
    card = (folder / CARD).read_text()
    meta, body = front_matter_and_body(card)
    assert meta["pipeline_tag"] == "text-generation"
    assert f"{len(AutoTokenizer.from_pretrained(folder)):,} tokens" in body
    assert "7.125 nats per token" in body and "Twelve steps: a test model." in body
    assert "| steps | 12 of batch 8 examples" in body  # from train_log.json
    assert run_snippet(card, tmp_path).strip()

    finish_model_folder(folder)  # again, without facts: the stored ones are kept
    assert (folder / CARD).read_text() == card


def test_facts_cannot_overrule_what_the_folder_measures(tiny_model, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder)
    with pytest.raises(ValueError, match="measured from the folder"):
        finish_model_folder(folder, {"training": {"vocabulary": "7,139 tokens"}})


def test_cli_models_card_takes_an_eval_report_and_says_what_to_do_with_a_wrong_folder(tiny_model, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model, folder)
    report = tmp_path / "eval.json"
    report.write_text(
        json.dumps(
            {"heldout_nll": 6.5, "heldout_poems": 3, "heldout_source": "test split", "sampling": {}, "settings": {}}
        )
    )
    result = CliRunner().invoke(app, ["models", "card", str(folder), "--facts", str(report)])
    assert result.exit_code == 0, result.output
    assert "6.500 nats per token" in (folder / CARD).read_text()

    result = CliRunner().invoke(app, ["models", "card", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "save_pretrained" in result.output
    report.write_text("[1]")
    result = CliRunner().invoke(app, ["models", "card", str(folder), "--facts", str(report)])
    assert result.exit_code == 2 and "pass a JSON object" in result.output
    # facts that cannot go into a card are refused before anything is written: the folder's card stays
    card, stored = (folder / CARD).read_text(), (folder / "card_facts.json").read_text()
    for bad in ({"evaluation": 5}, {"heldout_nll": "abc"}, {"training": [1]}, {"limits": "one"}, {"colour": "red"}):
        report.write_text(json.dumps(bad))
        result = CliRunner().invoke(app, ["models", "card", str(folder), "--facts", str(report)])
        assert result.exit_code == 2 and "Traceback" not in result.output, (bad, result.output)
        assert (folder / CARD).read_text() == card and (folder / "card_facts.json").read_text() == stored
    assert CliRunner().invoke(app, ["models", "card", str(folder)]).exit_code == 0
