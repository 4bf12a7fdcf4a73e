"""Finishing a from_pretrained folder so that a transformers user can load and use it as it is.

`save_pretrained` writes what the transformers that ran it needs and no more: 5.x names a tokenizer
class (TokenizersBackend) that 4.x lacks, keeps its special tokens under a key 4.x reads as a dict,
leaves model_max_length unbounded and writes a generation_config without the engine's sampling
settings. `finish_model_folder` fixes those files and writes README.md, a Hub-style model card
whose numbers are measured from the folder itself (parameters, vocabulary, train_log.json), so the
card cannot drift from the weights it describes. Both the trainer's export and the fine-tune's call
it; `lianju models card DIR` runs it on a folder that exists.

What the folder cannot say about itself (evaluation, how the run went, its limits) comes as facts:

    summary           markdown: what this model is (a default describes a model trained from scratch)
    training          {label: value} rows added to the facts table, or replacing a computed training row
    training_notes    markdown after the table: commands, how the run went
    usage_notes       markdown after the usage snippet: the transformers versions it was checked with
    evaluation        the JSON that `lianju eval --out FILE.json` writes (held-out NLL, unconstrained sampling)
    evaluation_notes  markdown after the evaluation table
    limits            markdown bullets, added to the limits every model of this project has

The facts are kept in the folder (card_facts.json), so the card can be written again without them.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from safetensors import safe_open
from tokenizers import Tokenizer
from transformers import GenerationConfig

from engine import prompts
from engine.forms import JINTI_FORMS
from engine.sampling import SamplingParams

CARD = "README.md"
OLD_CARD = "MODEL_CARD.md"
FACTS = "card_facts.json"
LICENSE = "mit"  # pyproject.toml's license (tests hold them together); the chinese-poetry corpus is MIT too
REPOSITORY = "Lianju"
# The longest thing the model writes: a 七律, its line-end marks and <eos>.
MAX_NEW_TOKENS = max(form.line_count * (form.chars_per_line + 1) + 1 for form in JINTI_FORMS.values())
# The transformers 4.x check the card gives; it runs the card's own usage snippet.
CHECK_4X = (
    "python3 -m venv /tmp/venv45\n"
    "/tmp/venv45/bin/pip install torch==2.13.0\n"
    "/tmp/venv45/bin/pip install 'transformers>=4.50,<4.60' safetensors tokenizers\n"
    "awk '/^```python$/{on=1; next} /^```$/{on=0} on' {card} | OMP_NUM_THREADS=1 /tmp/venv45/bin/python -"
)
# Keys transformers 5.x saves from the load itself; they say nothing about the tokenizer.
_LOAD_STATE = ("is_local", "local_files_only")
_DTYPES = {"BF16": "bfloat16", "F16": "float16", "F32": "float32"}  # safetensors' names, as torch says them
_COMPUTED = ("parameters", "vocabulary", "weights on disk", "context")


def finish_model_folder(folder: Path, facts: dict | None = None) -> None:
    """Fix tokenizer_config.json, config.json and generation_config.json for transformers 4.5x and 5.x,
    and write README.md (the model card) from the folder and `facts` (merged over the stored ones)."""
    folder = Path(folder)
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"):
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"{folder / name} is missing: pass a folder written by save_pretrained "
                "(model and tokenizer), such as a run's model/ folder"
            )
    stored = (
        _checked_facts(json.loads((folder / FACTS).read_text()), folder / FACTS) if (folder / FACTS).is_file() else {}
    )
    given = _checked_facts(facts or {}, "the facts given")
    facts = {**stored, **given, "training": {**stored.get("training", {}), **given.get("training", {})}}
    if clash := set(facts["training"]) & set(_COMPUTED):
        raise ValueError(f"{', '.join(sorted(clash))} are measured from the folder; remove them from the facts")
    config = json.loads((folder / "config.json").read_text())
    if not all(isinstance(config.get(key), int) for key in _CONFIG_NUMBERS):
        raise ValueError(f"{folder / 'config.json'} is not a Llama config with {', '.join(_CONFIG_NUMBERS)}")
    try:  # before anything is written: facts that cannot be shown must not replace those that can
        card = render_card(folder, config, facts)
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise ValueError(
            f"the facts do not fit a model card ({type(error).__name__}: {error}); an evaluation is the JSON "
            "`lianju eval --out` writes"
        ) from None
    fix_config(folder, config)
    fix_tokenizer_config(folder, config["max_position_embeddings"])
    write_generation_config(folder, config)
    if any(facts.values()):
        (folder / FACTS).write_text(json.dumps(facts, ensure_ascii=False, indent=1) + "\n")
    (folder / CARD).write_text(card)
    (folder / OLD_CARD).unlink(missing_ok=True)


_TEXT_FACTS = ("summary", "training_notes", "usage_notes", "evaluation_notes")
_CONFIG_NUMBERS = ("max_position_embeddings", "num_hidden_layers", "hidden_size", "num_attention_heads")


def _checked_facts(facts: object, source: object) -> dict:
    """The facts, if each key is one the module docstring lists and of its shape; else a ValueError."""
    if not isinstance(facts, dict):
        raise ValueError(f"{source}: the facts are a JSON {type(facts).__name__}, not an object")
    shapes = {
        **{key: isinstance(facts.get(key, ""), str) for key in _TEXT_FACTS},
        "training": isinstance(facts.get("training", {}), dict)
        and all(isinstance(value, (str, int, float)) for value in facts.get("training", {}).values()),
        "evaluation": isinstance(facts.get("evaluation") or {}, dict),
        "limits": isinstance(facts.get("limits", []), list)
        and all(isinstance(item, str) for item in facts.get("limits", [])),
    }
    if unknown := set(facts) - set(shapes):
        raise ValueError(f"{source}: unknown facts {', '.join(sorted(unknown))} (engine/model_card.py lists the keys)")
    if wrong := [key for key, right in shapes.items() if not right]:
        raise ValueError(
            f"{source}: {', '.join(wrong)} of the wrong shape (text; training {{label: value}}; "
            "evaluation a `lianju eval --out` report; limits a list of text)"
        )
    return facts


def fix_config(folder: Path, config: dict) -> None:
    """5.x keeps the RoPE base in rope_parameters; 4.x reads rope_theta and would fall back to its default."""
    rope = config.get("rope_parameters") or {}
    if "rope_theta" in rope and "rope_theta" not in config:
        config["rope_theta"] = rope["rope_theta"]
        (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def fix_tokenizer_config(folder: Path, context: int) -> None:
    path = folder / "tokenizer_config.json"
    settings = json.loads(path.read_text())
    extra = settings.pop("extra_special_tokens", None)
    # 4.x reads extra_special_tokens as a dict of named tokens and fails on 5.x's list; both read this key
    if isinstance(extra, list):
        settings["additional_special_tokens"] = extra
    elif extra:
        settings["extra_special_tokens"] = extra
    for key in _LOAD_STATE:
        settings.pop(key, None)
    settings.update(
        tokenizer_class="PreTrainedTokenizerFast",  # 5.x's TokenizersBackend does not exist in 4.x
        model_max_length=context,
        # 4.x also returns token_type_ids, which LlamaForCausalLM.generate refuses
        model_input_names=["input_ids", "attention_mask"],
        clean_up_tokenization_spaces=False,  # the text has no spaces to clean; 4.x's cleanup only changes it
    )
    path.write_text(json.dumps(settings, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def write_generation_config(folder: Path, config: dict) -> None:
    """The engine's sampling defaults, so a plain `generate` samples as the bot does (without its constraints)."""
    defaults = {f.name: f.default for f in fields(SamplingParams)}
    GenerationConfig(
        do_sample=True,
        temperature=defaults["temperature"],
        top_k=defaults["top_k"],
        top_p=defaults["top_p"],
        repetition_penalty=defaults["repetition_penalty"],
        max_new_tokens=MAX_NEW_TOKENS,
        bos_token_id=config["bos_token_id"],
        eos_token_id=config["eos_token_id"],
        pad_token_id=config["pad_token_id"],
    ).save_pretrained(folder)


# ---------------------------------------------------------------------------------------------
# Measured from the folder


def parameter_count(folder: Path) -> tuple[int, str]:
    """Parameters stored in model.safetensors (a tied output layer is stored once) and their dtype."""
    total, dtypes = 0, set()
    with safe_open(folder / "model.safetensors", framework="pt") as weights:
        for name in weights.keys():
            tensor = weights.get_slice(name)
            count = 1
            for size in tensor.get_shape():
                count *= size
            total += count
            dtypes.add(_DTYPES.get(tensor.get_dtype(), tensor.get_dtype()))
    return total, "/".join(sorted(dtypes))


def special_tokens(folder: Path) -> list[str]:
    tokenizer = json.loads((folder / "tokenizer.json").read_text())
    return [token["content"] for token in tokenizer["added_tokens"] if token["special"]]


def vocabulary_size(folder: Path) -> int:
    return Tokenizer.from_file(str(folder / "tokenizer.json")).get_vocab_size(with_added_tokens=True)


def training_rows(folder: Path) -> dict[str, str]:
    """What train_log.json says about the run; nothing when there is none (a fine-tune, say)."""
    path = folder / "train_log.json"
    if not path.is_file():
        return {}
    log = json.loads(path.read_text())
    state, settings = log["state"], log["config"]
    history = state["history"]
    last = history[-100:]
    validation = [h for h in history if "val_loss" in h]
    # lianju train logs batches of examples; the one-shot GPU run (engine.oneshot) rows of packed examples
    batch = (
        f"{settings['batch_rows']} rows of {settings['seq_len']} packed tokens"
        if "batch_rows" in settings
        else f"batch {settings['batch_size'] * settings.get('grad_accum', 1)} examples"
    )
    rows = {
        "size": settings.get("size", "—"),
        "steps": f"{state['step']:,} of {batch} "
        f"(lr {settings['lr']:g}, warm-up {settings['warmup_steps']} steps, weight decay "
        f"{settings['weight_decay']:g}, dropout {settings['dropout']:g})",
        "epochs": f"{state['epoch']} completed"
        + (f", and {state['batch_in_epoch']:,} steps of the next" if state["batch_in_epoch"] else ""),
        "tokens seen": f"{state['tokens_seen']:,} (prompt and poem tokens, no padding)",
        "wall time": f"{state['seconds'] / 60:.0f} min of training steps",
    }
    if last:
        rows[f"train loss (mean of last {len(last)} steps)"] = (
            f"{sum(h['train_loss'] for h in last) / len(last):.3f} nats/token"
        )
    if validation:
        rows["validation loss (val split, last)"] = f"{validation[-1]['val_loss']:.3f} nats/token"
    return rows


# ---------------------------------------------------------------------------------------------
# The card


def render_card(folder: Path, config: dict, facts: dict) -> str:
    parameters, dtype = parameter_count(folder)
    vocabulary = vocabulary_size(folder)
    specials = special_tokens(folder)
    context = config["max_position_embeddings"]
    tied = ", tied embeddings" if config.get("tie_word_embeddings") else ""
    rows = {
        "parameters": f"{parameters:,} ({config['num_hidden_layers']} layers, width {config['hidden_size']}, "
        f"{config['num_attention_heads']} heads, MLP {config['intermediate_size']}{tied})",
        "vocabulary": f"{vocabulary:,} tokens: {vocabulary - len(specials):,} characters and punctuation marks, "
        f"one token each, + {len(specials)} special tokens",
        "weights on disk": f"{(folder / 'model.safetensors').stat().st_size / 1e6:.1f} MB ({dtype} safetensors)",
        "context": f"{context} tokens, prompt and poem together",
        **training_rows(folder),
        **facts.get("training", {}),
    }
    front = "\n".join(
        [
            "---",
            "language:",
            "- zh",
            f"license: {LICENSE}",
            "library_name: transformers",
            "pipeline_tag: text-generation",
            "tags:",
            "- llama",
            "- chinese",
            "- classical-chinese-poetry",
            "- poetry",
            "- character-level",
            "datasets:",
            "- chinese-poetry",
            "---",
        ]
    )
    title = f"# {REPOSITORY} poetry model (`{_shown_path(folder)}`)"
    sections = [
        front,
        title,
        facts.get("summary") or _default_summary(),
        _table(rows),
        facts.get("training_notes", ""),
        "## Prompt format",
        _prompt_format(specials),
        "## Usage",
        _usage(folder, specials),
        facts.get("usage_notes", ""),
        _evaluation(facts.get("evaluation"), facts.get("evaluation_notes", "")),
        "## Limits",
        "\n".join(f"- {item}" for item in [*facts.get("limits", []), *_limits(context)]),
    ]
    return "\n\n".join(section.strip() for section in sections if section.strip()) + "\n"


def _limits(context: int) -> list[str]:
    """What every model of this project cannot do."""
    return [
        f"Context {context} tokens: a prompt and one poem (a 七律 is {MAX_NEW_TOKENS} tokens with its marks "
        "and `<eos>`), nothing longer.",
        "Simplified characters only: convert traditional text before encoding (Lianju's `engine.tokenizer.encode` "
        "does, and the bot converts its output back where a guild prefers 繁體); a character outside the "
        "vocabulary becomes `<unk>`.",
        "Trained to write the 近体 forms (五绝, 七绝, 五律, 七律) and 律诗 couplets of Tang and Song poems; "
        "词 and 古体 (`<ci>`, `<other>`) are at most extra text it read, not forms Lianju asks it for.",
        "Plain `generate` does not enforce rhyme or 平仄. Lianju's `engine.Poet` samples under hard constraints "
        "(shape, acrostic, rhyme group, 平仄 per slot); `engine.constraints.ConstraintsProcessor` gives the same "
        "rules to `generate` as a LogitsProcessor.",
    ]


def _default_summary() -> str:
    return (
        "A character-level decoder-only Transformer (`LlamaForCausalLM`) trained from scratch by Lianju, a "
        "Discord bot for writing classical Chinese poems together, on the 近体 poems and 律诗 couplets of the "
        "chinese-poetry corpus (npm `chinese-poetry`, MIT; traditional characters converted to simplified). "
        "It writes a poem, a next line or the second line of a couplet from a prompt of control tokens."
    )


def _table(rows: dict[str, str]) -> str:
    return "\n".join(["| | |", "|---|---|", *(f"| {label} | {value} |" for label, value in rows.items())])


def _prompt_format(specials: list[str]) -> str:
    # the examples are the indented lines of the module docstring
    formats = [line.strip() for line in (prompts.__doc__ or "").splitlines() if line.startswith("  ")]
    missing = [token for token in prompts.SPECIAL_TOKENS if token not in specials]
    lines = [
        "One token per character; control tokens say the task and the form. What follows `<sep>` is what the "
        "model writes, up to `<eos>` (from Lianju's `engine/prompts.py`):",
        "",
        *(f"    {line}" for line in formats),
        "",
        "Before `<plan>`: the theme, 1-3 characters or two-character words joined by 、 (or nothing), or "
        "`<acrostic>` and the first character of each line. After `<plan>`: one keyword per line. Lines end "
        "in ， and 。 alternately. Forms: `<wujue>` 五绝, `<qijue>` 七绝, `<wulv>` 五律, `<qilv>` 七律.",
        "",
        f"This tokenizer's special tokens: {' '.join(f'`{token}`' for token in specials)}.",
    ]
    if missing:
        lines.append(
            f"It predates {' '.join(f'`{token}`' for token in missing)}: "
            f"leave {'it' if len(missing) == 1 else 'them'} out of its prompts."
        )
    return "\n".join(lines)


def _usage(folder: Path, specials: list[str]) -> str:
    if prompts.PLAN in specials:
        prompt, about = (
            "<bos><poem><wujue>登楼<plan>白日、黄河、千里、层楼<sep>",
            "a 五言绝句 on 登楼, one keyword a line",
        )
    else:
        prompt, about = "<bos><poem><qijue>月<sep>", "a 七言绝句 about the moon"
    snippet = f'''```python
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

path = "{_shown_path(folder)}"
tokenizer = AutoTokenizer.from_pretrained(path)
model = AutoModelForCausalLM.from_pretrained(path).float().eval()  # the weights are stored in bfloat16

prompt = "{prompt}"  # {about}
inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
print(tokenizer.convert_ids_to_tokens(inputs.input_ids[0]))  # each control token is one token
torch.manual_seed(0)
output = model.generate(**inputs)  # samples with generation_config.json: Lianju's defaults
print(tokenizer.decode(output[0, inputs.input_ids.shape[1]:], skip_special_tokens=True))
```'''
    defaults = SamplingParams()
    return "\n".join(
        [
            snippet,
            "",
            f"generation_config.json holds Lianju's sampling defaults: temperature {defaults.temperature}, top-k "
            f"{defaults.top_k}, top-p {defaults.top_p}, repetition penalty {defaults.repetition_penalty}, at most "
            f"{MAX_NEW_TOKENS} new tokens (a 七律). `add_special_tokens=False`: the prompt carries its own `<bos>`.",
            "",
            "The folder loads with transformers 5.x and 4.50 or later. To check 4.x, from the folder that `path` is "
            "relative to (this runs the snippet above):",
            "",
            *(f"    {line}" for line in CHECK_4X.replace("{card}", f"{_shown_path(folder)}/{CARD}").splitlines()),
        ]
    )


def _evaluation(report: dict | None, notes: str) -> str:
    if not report:
        return ""
    lines = ["## Evaluation", ""]
    if report.get("heldout_nll") is not None:
        lines += [
            f"Held-out NLL: **{report['heldout_nll']:.3f} nats per token** on {report['heldout_poems']:,} poems "
            f"({report['heldout_source']}; the poem's characters, punctuation and `<eos>`, given "
            "`<poem><form><sep>` with no keywords).",
            "",
        ]
    sampling, settings = report.get("sampling") or {}, report.get("settings") or {}
    if sampling:
        lines += [
            f"Unconstrained sampling (no constraints at all; top-k {settings.get('top_k')}, top-p "
            f"{settings.get('top_p')}, temperature {settings.get('temperature')}; "
            f"{settings.get('samples_per_form')} samples per form, one theme character each):",
            "",
            "| form | exact shape | rhymes | 平仄 (拗救 allowed) | lines copied from the corpus "
            "| distinct-1 | distinct-2 |",
            "|---|---|---|---|---|---|---|",
        ]
        for form, quality in sampling.items():
            lines.append(
                f"| {form} | {quality['shape_ok']:.1%} | {quality['rhyme_ok']:.1%} | {quality['tone_ok']:.1%} | "
                f"{quality['copied_lines']:.1%} | {quality['distinct_1']:.3f} | {quality['distinct_2']:.3f} |"
            )
        examples = [(form, q["examples"][0]) for form, q in sampling.items() if q.get("examples")]
        if examples:
            lines += [
                "",
                "Examples (unconstrained, first sample of each form):",
                *(f"- {form}: {text}" for form, text in examples),
            ]
    return "\n".join([*lines, "", notes])


def _shown_path(folder: Path) -> str:
    """The folder as a reader would type it: relative to the working directory when inside it."""
    folder = folder.resolve()
    try:
        return folder.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return folder.as_posix()
