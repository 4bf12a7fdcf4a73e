"""The engine's chosen poems taught back to its model: expert iteration (best-of-n distillation, as in ReST).

    D=bench/panels/2026-11-29-distilled/distill.py
    $D generate --model engine/weights/default --out poems.jsonl --count 2400 --seed 95000
    $D train poems.jsonl --out /tmp/distilled --corpus $LIANJU_DATA_DIR/corpus      # then refit its readers:
    bench/reader.py --model /tmp/distilled && bench/line_reader.py --model /tmp/distilled

`generate` writes one poem per request of `dev_poems.wide_requests` (development themes, the four forms) as the bot
would serve it: sixteen candidates ranked by the readers, rewrites, the plan; each with the readers' scores. It
appends, so a stopped run goes on where it stopped.

`train` keeps the share of those poems the readers expect to read best (the fewest lines the line reader expects
marked, then the reader's liking), fine-tunes the model on them mixed with corpus poems (`engine.finetune.finetune`,
every weight), and runs the fine-tune's promotion gates against the model they came from.

Why: ranking and rewriting choose better poems than the model proposes (each step won its A/B panel), but every
request pays for sixteen candidates and the choice among them is only as good as the best one. Taught the chosen
poems, the model proposes more like them; the engine then chooses among better candidates.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository, before bench/ (bench/engine.py)
from engine.finetune import RatedPoem, finetune, run_gates  # noqa: E402
from engine.novelty import CorpusLines  # noqa: E402
from engine.oneshot import CORPUS_LINES, SHIPPED_MODEL  # noqa: E402

sys.path.insert(1, str(Path(__file__).resolve().parents[2]))  # bench/
from dev_poems import load_poet, wide_requests  # noqa: E402

# In the ranking of generated poems, per unit of the reader's score, against the line reader's expected share of
# marked lines (the reader's scores spread over about ±1, the shares over 0.05-0.25).
READER_WEIGHT = 0.1
GATE_FEEDBACK = 200  # kept poems whose NLL the gates compare (a sample: the gate is that they became likelier)

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Expert iteration: generate, keep the best, train.")


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="JSONL of poems with their readers' scores; appended to.")],
    model: Annotated[Path, typer.Option(help="The model folder to write with.")] = SHIPPED_MODEL,
    count: Annotated[int, typer.Option(min=1, help="Requests in all (those already in OUT are skipped).")] = 2400,
    seed: Annotated[int, typer.Option(help="The requests' seed (dev_poems.wide_requests).")] = 95000,
) -> None:
    """Poems as the engine serves them, for `train`."""
    if not model.is_dir():
        raise typer.BadParameter(f"{model} is not a model folder", param_hint="--model")
    done = sum(1 for line in out.open(encoding="utf-8") if line.strip()) if out.is_file() else 0
    asyncio.run(_generate(model, out, list(wide_requests(count, seed))[done:]))


async def _generate(model: Path, out: Path, requests: list[tuple[str, str, int]]) -> None:
    poet = load_poet(model)
    with out.open("a", encoding="utf-8") as handle:
        for theme, form, seed in tqdm(requests, desc="writing", mininterval=10):
            poem = await poet.compose(theme, form=form, seed=seed)
            record = {
                "theme": theme,
                "form": form,
                "seed": seed,
                "lines": poem.lines,
                "reader": poem.scores["reader"],
                "failing_lines": poem.scores["failing_lines"],
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()
    await poet.close()


def expected_badness(poem: dict) -> float:
    """Lower is better: the share of its lines readers are expected to mark, less a little of the reader's liking."""
    return sum(poem["failing_lines"]) / len(poem["lines"]) - READER_WEIGHT * poem["reader"]


@app.command()
def train(
    poems: Annotated[Path, typer.Argument(help="What `generate` wrote.")],
    out: Annotated[Path, typer.Option(help="The fine-tuned model folder to write.")],
    corpus: Annotated[Path, typer.Option(help="The built corpus (lianju corpus build).")],
    model: Annotated[Path, typer.Option(help="The model the poems came from, fine-tuned.")] = SHIPPED_MODEL,
    keep: Annotated[float, typer.Option(min=0.05, max=1.0, help="The share of poems kept, best first.")] = 0.6,
    lr: Annotated[float, typer.Option(min=1e-7, max=1e-3)] = 5e-5,
    corpus_ratio: Annotated[int, typer.Option(min=0, max=10, help="Corpus poems per kept poem.")] = 2,
    epochs: Annotated[int, typer.Option(min=1, max=10)] = 2,
) -> None:
    """Fine-tune on the best of the generated poems, then the gates."""
    try:
        generated = [json.loads(line) for line in poems.open(encoding="utf-8") if line.strip()]
    except (OSError, ValueError) as error:
        raise typer.BadParameter(f"cannot read {poems}: {error}", param_hint="POEMS") from None
    if not generated:
        raise typer.BadParameter(f"{poems} holds no poems: run `generate` first", param_hint="POEMS")
    kept = sorted(generated, key=expected_badness)[: max(1, round(len(generated) * keep))]
    print(f"{len(kept)} of {len(generated)} poems kept")
    feedback = [RatedPoem(i, p["lines"], p["form"], p["theme"], {}) for i, p in enumerate(kept)]
    summary = finetune(model, out, feedback, corpus, epochs=epochs, lr=lr, corpus_ratio=corpus_ratio)
    print(json.dumps(summary))
    report = run_gates(model, out, corpus, feedback[:GATE_FEEDBACK], corpus_lines=CorpusLines.load(CORPUS_LINES))
    print(json.dumps(report.to_dict(), ensure_ascii=False))


if __name__ == "__main__":
    app()
