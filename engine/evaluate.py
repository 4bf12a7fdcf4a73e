"""How good is a model? Held-out NLL, and the quality of what it writes unconstrained.

    lianju eval --model engine/weights/default

- Held-out NLL: nats per token of the poem (its characters, its punctuation and <eos>) given
  `<poem><form><sep>`, on the 近体 poems of the test split whose ids are frozen in
  heldout_test_ids.txt, so numbers stay comparable across models and corpus rebuilds.
- Unconstrained sampling: for each form, poems sampled with top-k/top-p and no constraints
  from prompts with one theme character; the share with the form's exact shape, that rhyme,
  that follow 平仄 (拗救 allowed), lines copied verbatim from the corpus, and distinct-1/2.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from tqdm import tqdm
from transformers import AutoModelForCausalLM

from engine import prompts
from engine.corpus import LineIndex
from engine.forms import JINTI_FORMS
from engine.prosody import check
from engine.text import split_lines
from engine.tokenizer import load_tokenizer
from engine.train import completion_loss, jinti_records, tokenize, use_bf16

HELDOUT_IDS = Path(__file__).with_name("heldout_test_ids.txt")
THEMES = "月春秋山水风花雪江云夜雨柳梅酒归"


@dataclass
class FormQuality:
    samples: int = 0
    shape_ok: float = 0.0
    rhyme_ok: float = 0.0
    tone_ok: float = 0.0  # lenient: 拗救 accepted
    copied_lines: float = 0.0  # share of lines found verbatim in the corpus
    distinct_1: float = 0.0
    distinct_2: float = 0.0
    examples: list[str] = field(default_factory=list)


@dataclass
class EvalReport:
    model: str
    parameters: int
    heldout_poems: int
    heldout_source: str
    heldout_nll: float | None
    sampling: dict[str, FormQuality]
    settings: dict
    seconds: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)


def heldout_records(corpus: Path, ids_path: Path = HELDOUT_IDS) -> tuple[list[dict], str]:
    """The frozen held-out poems; the corpus's own test split when none of the ids is in it."""
    return heldout_of(jinti_records(corpus), ids_path)


def heldout_of(poems: list[dict], ids_path: Path = HELDOUT_IDS) -> tuple[list[dict], str]:
    """heldout_records of 近体 poems already read (and their source)."""
    if ids_path.is_file():
        frozen = set(ids_path.read_text().split())
        chosen = [r for r in poems if r["id"] in frozen]
        if chosen:
            return chosen, f"frozen ids ({ids_path.name})"
    return [r for r in poems if r["split"] == "test"], "test split"


def distinct(texts: list[str], n: int) -> float:
    grams = [text[i : i + n] for text in texts for i in range(len(text) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


@torch.no_grad()
def sample_poems(model, tokenizer, form: str, count: int, seed: int, batch_size: int = 32) -> list[str]:
    """Unconstrained samples (top-k 50, top-p 0.95), decoded to text after <sep>."""
    torch.manual_seed(seed)
    tokenizer.padding_side = "left"
    texts = []
    for start in range(0, count, batch_size):
        themes = [THEMES[(start + i) % len(THEMES)] for i in range(min(batch_size, count - start))]
        batch = tokenizer(
            [prompts.poem_prompt(form, [t]) for t in themes],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        ).to(model.device)
        # every setting given: a folder's generation_config.json holds the engine's defaults (temperature 0.9 …)
        out = model.generate(
            **batch,
            do_sample=True,
            top_k=50,
            top_p=0.95,
            temperature=1.0,
            repetition_penalty=1.0,
            max_new_tokens=80,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        texts += tokenizer.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    return texts


def poems_nll(model, tokenizer, poems: list[tuple[str, list[str]]], device, bf16: bool) -> float | None:
    """Nats per token of each (form, lines) poem given `<poem><form><sep>`; None for no poems."""
    examples = [(prompts.poem_prompt(form), prompts.poem_body(lines) + prompts.EOS) for form, lines in poems]
    return (
        completion_loss(model, tokenize(tokenizer, examples), tokenizer.pad_token_id, device, bf16) if poems else None
    )


class LineSet(Protocol):
    """The corpus's lines as engine.corpus.LineIndex or engine.novelty.CorpusLines hold them."""

    def __contains__(self, line: str) -> bool: ...


def form_quality(texts: list[str], form: str, corpus_lines: LineSet | None) -> FormQuality:
    """Shape, rhyme, 平仄 and diversity of samples; copies counted against `corpus_lines` when given."""
    reports = [check(text, form) for text in texts]
    lines = [line for text in texts for line in split_lines(text)]
    copied = sum(line in corpus_lines for line in lines) if corpus_lines is not None else 0
    han = ["".join(split_lines(text)) for text in texts]
    n = max(len(texts), 1)
    return FormQuality(
        samples=len(texts),
        shape_ok=sum(r.format_ok for r in reports) / n,
        rhyme_ok=sum(r.rhyme_ok for r in reports) / n,
        tone_ok=sum(r.tone_ok_lenient for r in reports) / n,
        copied_lines=copied / max(len(lines), 1),
        distinct_1=distinct(han, 1),
        distinct_2=distinct(han, 2),
        examples=texts[:3],
    )


def evaluate(
    model_dir: Path,
    corpus: Path,
    samples: int = 100,
    ids_path: Path = HELDOUT_IDS,
    seed: int = 0,
    progress: bool = True,
) -> EvalReport:
    started = time.monotonic()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    bf16 = use_bf16(device, "auto")
    tokenizer = load_tokenizer(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to(device).eval()  # type: ignore[arg-type]  # transformers types to() through functools.wraps, unbound

    records, source = heldout_records(corpus, ids_path)
    nll = poems_nll(model, tokenizer, [(r["form"], r["lines"]) for r in records], device, bf16)

    index_path = corpus / "corpus.sqlite"
    line_index = LineIndex(index_path) if index_path.is_file() else None
    sampling = {}
    for form in tqdm(JINTI_FORMS, desc="sampling", disable=not progress):
        sampling[form] = form_quality(sample_poems(model, tokenizer, form, samples, seed), form, line_index)
    return EvalReport(
        model=str(model_dir),
        parameters=sum(p.numel() for p in model.parameters()),
        heldout_poems=len(records),
        heldout_source=source,
        heldout_nll=round(nll, 4) if nll is not None else None,
        sampling=sampling,
        settings={
            "samples_per_form": samples,
            "top_k": 50,
            "top_p": 0.95,
            "temperature": 1.0,
            "seed": seed,
            "themes": THEMES,
            "device": device.type,
            "bf16": bf16,
        },
        seconds=round(time.monotonic() - started, 1),
    )
