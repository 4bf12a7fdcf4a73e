"""Benchmark of the generation engine on the shipped model.

    .venv/bin/python bench/engine.py [--backend cpu-fp32] [--quality 200] [--out bench/results/engine.json]

Measures, on this machine:
- per-token and one-poem (七律, 65 tokens) latency at batch 1 for (a) plain `model.generate`
  with top-k/top-p and no constraints, the baseline a transformers user would write,
  (b) our engine with every constraint on (one candidate), and `generate` under the same
  constraints as a LogitsProcessor (engine.constraints.ConstraintsProcessor);
- one poem of each form as the bot asks for it (engine.poet.default_candidates: 16 candidates for a quatrain, 8
  for a 律诗, ranked with the readers);
- poems/s at 1, 4, 16 and 64 concurrent requests: the engine (batched), requests served one by
  one with `generate`, and `generate` on a hand-made batch;
- peak RSS and the memory-bandwidth floor (weight bytes per token / measured copy bandwidth);
- held-out NLL of the backend's own logits (fp32 and int8 must write equally well);
- quality: `--quality` poems per form for varied themes (shape, acrostic hit, rhyme, 平仄 with
  拗救, lines copied from the corpus, duplicates, unrhymed lines that end on a character most
  readers hear as 平, the theme written into the poem), when the corpus index is built;
- with `--ctranslate2` (needs `pip install ctranslate2`, not a project dependency): the same
  model converted to CTranslate2 int8, sampling a 七律 with top-k/top-p and no constraints, one
  thread. CTranslate2 offers no per-step hook on the logits, so it cannot host our
  constraints; this measures what that route would give up or gain.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, LogitsProcessorList

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import SHIPPED_MODEL, get_settings  # noqa: E402
from engine import prompts  # noqa: E402
from engine.constraints import ConstraintsProcessor, PoemConstraint, PoemPlan  # noqa: E402
from engine.corpus import LineIndex  # noqa: E402
from engine.evaluate import heldout_records  # noqa: E402
from engine.forms import JINTI_FORMS  # noqa: E402
from engine.poet import Poet, default_candidates  # noqa: E402
from engine.prosody import ZE, check, heard_tone, tone_patterns  # noqa: E402
from engine.tokenizer import load_tokenizer  # noqa: E402
from engine.train import tokenize  # noqa: E402

POEM_TOKENS = 65  # a 七律: 56 characters, 8 marks, <eos>
QILV_PROMPT = prompts.poem_prompt("qilv", ["月"])  # what every speed measurement writes from
THEMES = "月春秋山水风花雪江云夜雨柳梅酒归雁舟松竹楼城草霜烟灯笛钟桥"
ACROSTICS = {4: ["春江花月", "风花雪月", "青山绿水", "明月清风"], 8: ["春眠不觉晓处处闻", "江南好风景落花时"]}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def copy_bandwidth_gb_s() -> float:
    source = torch.empty(256 * 2**20 // 4)
    target = torch.empty_like(source)
    target.copy_(source)
    started = time.perf_counter()
    for _ in range(10):
        target.copy_(source)
    seconds = time.perf_counter() - started
    return 2 * source.numel() * 4 * 10 / seconds / 1e9  # read + write


def generate_baseline(model, tokenizer, batch: int) -> float:
    """Seconds for plain generate to write `batch` 七律-length samples at once."""
    inputs = tokenizer([QILV_PROMPT] * batch, return_tensors="pt", add_special_tokens=False)
    started = time.perf_counter()
    model.generate(
        **inputs,
        do_sample=True,
        top_k=40,
        top_p=0.92,
        max_new_tokens=POEM_TOKENS,
        min_new_tokens=POEM_TOKENS,
        pad_token_id=tokenizer.pad_token_id,
    )
    return time.perf_counter() - started


def generate_constrained(model, tokenizer, masks, seed: int) -> tuple[float, bool]:
    """Seconds for `generate` to write one 七律 under the engine's constraints (a LogitsProcessor),
    and whether it scans."""
    form = JINTI_FORMS["qilv"]
    constraint = PoemConstraint(masks, PoemPlan(form, tone_patterns(form)[seed % 4]))
    inputs = tokenizer([QILV_PROMPT], return_tensors="pt", add_special_tokens=False)
    start = inputs["input_ids"].shape[1]
    torch.manual_seed(seed)
    started = time.perf_counter()
    output = model.generate(
        **inputs,
        do_sample=True,
        top_k=40,
        top_p=0.92,
        max_new_tokens=POEM_TOKENS,
        logits_processor=LogitsProcessorList([ConstraintsProcessor([constraint], start)]),
        pad_token_id=tokenizer.pad_token_id,
    )
    seconds = time.perf_counter() - started
    report = check(tokenizer.decode(output[0, start:], skip_special_tokens=True), "qilv")
    return seconds, report.format_ok and report.rhyme_ok and report.tone_ok


async def engine_latency(poet: Poet, concurrency: int, seed: int) -> float:
    started = time.perf_counter()
    await asyncio.gather(
        *(
            poet.compose(THEMES[(seed + i) % len(THEMES)], form="qilv", n_candidates=1, seed=seed + i)
            for i in range(concurrency)
        )
    )
    return time.perf_counter() - started


def ctranslate2_int8(tokenizer, repeats: int) -> dict:
    import tempfile

    import ctranslate2
    from ctranslate2.converters import TransformersConverter

    prompt = tokenizer.convert_ids_to_tokens(tokenizer.encode(QILV_PROMPT, add_special_tokens=False))
    results = {"version": ctranslate2.__version__}
    with tempfile.TemporaryDirectory() as folder:
        TransformersConverter(str(SHIPPED_MODEL)).convert(folder, quantization="int8", force=True)
        # one thread per worker, as CTranslate2 advises; its own second thread would fight the
        # engine's torch threads in this process
        generator = ctranslate2.Generator(folder, device="cpu", compute_type="int8", intra_threads=1)

        def poems(batch: int) -> float:
            started = time.perf_counter()
            generator.generate_batch(
                [prompt] * batch,
                max_length=POEM_TOKENS,
                min_length=POEM_TOKENS,
                sampling_topk=40,
                sampling_topp=0.92,
                include_prompt_in_result=False,
            )
            return time.perf_counter() - started

        poems(1)  # warm-up
        results["poem_s"] = round(median([poems(1) for _ in range(repeats)]), 4)
        results["poems_per_s_16_batched"] = round(16 / median([poems(16) for _ in range(3)]), 2)
    return results


def median(values: list[float]) -> float:
    return statistics.median(values)


async def quality(poet: Poet, per_form: int) -> dict:
    """Copies are counted exactly, with the corpus's line index, not the poet's Bloom filter."""
    index = LineIndex(get_settings().corpus_dir / "corpus.sqlite")
    table = {}
    for form_name, form in JINTI_FORMS.items():
        requests = []
        for i in range(per_form):
            acrostic = ACROSTICS[form.line_count][i % len(ACROSTICS[form.line_count])] if i % 4 == 3 else None
            requests.append((THEMES[i % len(THEMES)], acrostic, 10_000 + i))
        poems = []
        for start in range(0, len(requests), 100):  # within the batcher's queue bound
            poems += await asyncio.gather(
                *(
                    poet.compose(theme, form=form_name, acrostic=acrostic, seed=seed)
                    for theme, acrostic, seed in requests[start : start + 100]
                )
            )
        reports = [check(p.text, form_name) for p in poems]
        with_acrostic = [p for p in poems if p.params["acrostic"]]
        table[form_name] = {
            "poems": len(poems),
            "shape_ok": sum(r.format_ok for r in reports) / len(poems),
            "acrostic_hit": sum("".join(line[0] for line in p.lines) == p.params["acrostic"] for p in with_acrostic)
            / max(len(with_acrostic), 1),
            "rhyme_ok": sum(r.rhyme_ok for r in reports) / len(poems),
            "tone_ok_lenient": sum(r.tone_ok_lenient for r in reports) / len(poems),
            "tone_ok_strict": sum(r.tone_ok for r in reports) / len(poems),
            "copied": sum(any(index.find(line) for line in p.lines) for p in poems) / len(poems),
            "duplicates": len(poems) - len({p.text for p in poems}),
            "relaxed_rules": sum(bool(p.relaxed) for p in poems) / len(poems),
            "unrhymed_end_heard_level": sum(_sounds_rhymed(p, form) for p in poems) / len(poems),
            "theme_in_poem": sum(p.scores["theme_in_poem"] for p in poems) / len(poems),
        }
    return table


def _sounds_rhymed(poem, form) -> bool:
    """An unrhymed line ends on a character most readers hear as 平 (engine.prosody.heard_tone)."""
    rhymed = set(form.rhyme_lines) | ({0} if poem.report["pattern"].endswith("首句入韵") else set())
    return any(heard_tone(line[-1]) != ZE for index, line in enumerate(poem.lines) if index not in rhymed)


def heldout_nll(backend, tokenizer, poems: int = 500) -> float:
    """Nats per poem token of the backend's own logits on the frozen held-out poems: the check that
    a faster backend (int8) writes as well as fp32."""
    records, _ = heldout_records(get_settings().corpus_dir)
    items = tokenize(
        tokenizer,
        [(prompts.poem_prompt(r["form"]), prompts.poem_body(r["lines"]) + prompts.EOS) for r in records[:poems]],
    )
    total, count = 0.0, 0
    for ids, prompt_length in items:
        logits = backend.decoder.all_logits(torch.tensor([ids]), torch.zeros(1, dtype=torch.long))[0]
        targets = torch.tensor(ids[prompt_length:])
        total += torch.nn.functional.cross_entropy(logits[prompt_length - 1 : -1], targets, reduction="sum").item()
        count += len(targets)
    return total / count


async def main(args) -> dict:
    results = {"machine": machine(), "backend": args.backend, "model": str(SHIPPED_MODEL)}
    poet = Poet(SHIPPED_MODEL, args.backend, get_settings().corpus_lines)

    def on_torch_thread(work, *arguments):
        # the engine's one torch thread runs the baseline too: a second thread entering torch
        # would slow both (engine.poet.Poet.torch_thread)
        return poet.torch_thread.submit(work, *arguments).result()

    model = on_torch_thread(lambda: AutoModelForCausalLM.from_pretrained(SHIPPED_MODEL, dtype=torch.float32).eval())
    tokenizer = load_tokenizer(SHIPPED_MODEL)
    params = sum(p.numel() for p in model.parameters())
    bandwidth = on_torch_thread(copy_bandwidth_gb_s)
    bytes_per_token = params * (1 if args.backend == "cpu-int8" else 4)
    results["model_parameters"] = params
    results["bandwidth_gb_s"] = round(bandwidth, 1)
    results["bandwidth_floor_ms_per_token"] = round(bytes_per_token / (bandwidth * 1e9) * 1000, 4)

    if (get_settings().corpus_dir / "poems.jsonl").is_file():
        results["heldout_nll"] = round(on_torch_thread(heldout_nll, poet.model.backend, tokenizer), 4)
    on_torch_thread(generate_baseline, model, tokenizer, 1)  # warm-up
    await engine_latency(poet, 1, 0)
    # baseline and engine in turns, so that a slower minute of a shared machine hits both alike
    pairs = []
    for i in range(args.repeats):
        pairs.append((on_torch_thread(generate_baseline, model, tokenizer, 1), await engine_latency(poet, 1, i)))
    baseline, single = median([b for b, _ in pairs]), median([e for _, e in pairs])
    results["baseline_poem_s"] = round(baseline, 4)
    results["baseline_ms_per_token"] = round(baseline / POEM_TOKENS * 1000, 3)
    results["engine_poem_s"] = round(single, 4)
    results["engine_ms_per_token"] = round(single / POEM_TOKENS * 1000, 3)
    results["speedup_vs_generate"] = round(median([b / e for b, e in pairs]), 2)
    constrained = [
        on_torch_thread(generate_constrained, model, tokenizer, poet.model.masks, i) for i in range(args.repeats)
    ]
    results["generate_constrained_poem_s"] = round(median([seconds for seconds, _ in constrained]), 4)
    results["generate_constrained_scans"] = sum(scans for _, scans in constrained) / len(constrained)

    # what one /poem costs as the bot asks for it, each form
    per_form = {}
    for form_name in JINTI_FORMS:
        seconds = []
        for i in range(args.repeats):
            started = time.perf_counter()
            await poet.compose(THEMES[i % len(THEMES)], form=form_name, seed=i)
            seconds.append(time.perf_counter() - started)
        per_form[form_name] = round(median(seconds), 4)
    results["poem_as_the_bot_asks_s"] = per_form
    results["candidates"] = {name: default_candidates(form) for name, form in JINTI_FORMS.items()}

    throughput = {}
    for concurrency in (1, 4, 16, 64):
        engine_s = await engine_latency(poet, concurrency, 100 * concurrency)
        batched_s = on_torch_thread(generate_baseline, model, tokenizer, concurrency)
        throughput[concurrency] = {
            "engine_poems_per_s": round(concurrency / engine_s, 2),
            "one_by_one_poems_per_s": round(1 / single, 2),
            "generate_batched_poems_per_s": round(concurrency / batched_s, 2),
        }
    results["throughput"] = throughput
    if args.ctranslate2:
        results["ctranslate2_int8_unconstrained"] = ctranslate2_int8(tokenizer, args.repeats)
    if args.quality:
        results["quality"] = await quality(poet, args.quality)
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    await poet.close()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="cpu-fp32")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quality", type=int, default=0, help="poems per form for the quality table")
    parser.add_argument("--ctranslate2", action="store_true", help="also measure CTranslate2 int8 (unconstrained)")
    parser.add_argument("--out", type=Path)
    arguments = parser.parse_args()
    report = asyncio.run(main(arguments))
    text = json.dumps(report, ensure_ascii=False, indent=1)
    print(text)
    if arguments.out:
        arguments.out.parent.mkdir(parents=True, exist_ok=True)
        arguments.out.write_text(text)
