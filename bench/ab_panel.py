"""A/B panels for a decoding or model change: raters read two of our poems per slot (same theme, form and
seed, one from each variant) and say which is better; the key says which side was which.

    .venv/bin/python bench/ab_panel.py make --a A.jsonl --b B.jsonl --folder bench/panels/NAME [--seed S]
    .venv/bin/python bench/ab_panel.py tally --folder bench/panels/NAME

`make` writes pairs.md (for raters: the instructions, then the pairs, sides in random order; slots where
both versions chose the same poem are left out) and pairs_key.json (never for raters). A rater writes
pair-ratings-<rater>.jsonl in the folder, one {"id": "Q001", "better": 1 or 2} per line. `tally` counts
each variant's wins per rater and form, and how far the total is from a fair coin: over answers, and over
pairs — the sound one, since the raters of one pair mostly agree (`pair_z_text`). `tally --folder P1 --folder
P2 …` (one comparison on other seeds) also puts all their pairs together.

bench/panel.py pits our poems against real ones; this compares two versions of ours, which is what a
change to the engine needs once raters can tell ours from real poems anyway.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from panel import PanelError, load_ours, poem_text  # noqa: E402

INSTRUCTIONS = """# Which poem is better?

Read only this sheet; do not open any other file and do not look anything up: judge from the text alone.
Each item is a pair of poems of the same form written on the same theme (题). Which is the better poem, read
as a scholar of classical poetry would: above all, does every line read as grammatical, idiomatic classical
Chinese (通顺), and do the lines make one whole (连贯); then whether it develops its 题 and says something
worth the words. Prosody (rhyme, 平仄) is not judged. Choose one even when they are close.

Write one JSON object per line to the answer file named in your instructions:
{"id": "Q001", "better": 1 or 2}
"""

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="A/B panels: which of two versions of our poems do raters prefer?"
)


def read_poems(path: Path, option: str) -> dict[tuple[str, str, int], list[str]]:
    """Our poems by (theme, form, round), read and checked as bench/panel.py reads them; the round counts
    earlier poems of the same theme and form, so one file may hold several rounds of seeds."""
    try:
        poems = load_ours(path)
    except PanelError as error:
        raise typer.BadParameter(str(error), param_hint=option) from None
    rounds: Counter[tuple[str, str]] = Counter()
    slots = {}
    for poem in poems:
        slots[(poem.theme, poem.form, rounds[(poem.theme, poem.form)])] = poem.lines
        rounds[(poem.theme, poem.form)] += 1
    return slots


@app.command()
def make(
    a: Annotated[Path, typer.Option(help="Variant A's poems (JSON lines with theme, form, lines).")],
    b: Annotated[Path, typer.Option(help="Variant B's poems, the same theme and form slots.")],
    folder: Annotated[Path, typer.Option(help="The panel's folder (created).")],
    seed: int = 7,
) -> None:
    """Write pairs.md for raters and pairs_key.json beside it."""
    poems_a, poems_b = read_poems(a, "--a"), read_poems(b, "--b")
    shared = [slot for slot in poems_a if slot in poems_b]
    # where both versions chose the same poem there is nothing to judge
    slots = [slot for slot in shared if poems_a[slot] != poems_b[slot]]
    if not slots:
        raise typer.BadParameter("the two files share no (theme, form) slot with different poems", param_hint="--b")
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    blocks, key = [], {}
    for number, slot in enumerate(slots, 1):
        pair_id = f"Q{number:03d}"
        theme, form, _ = slot
        sides = [("A", poems_a[slot]), ("B", poems_b[slot])]
        rng.shuffle(sides)
        blocks.append(f"- {pair_id}　题：{theme}\n  1. {poem_text(sides[0][1])}\n  2. {poem_text(sides[1][1])}")
        key[pair_id] = {"1": sides[0][0], "2": sides[1][0], "theme": theme, "form": form}
    (folder / "pairs.md").write_text(f"{INSTRUCTIONS}\n" + "\n".join(blocks) + "\n", encoding="utf-8")
    (folder / "pairs_key.json").write_text(
        json.dumps({"a": str(a), "b": str(b), "seed": seed, "pairs": key}, ensure_ascii=False, indent=1) + "\n",
        encoding="utf-8",
    )
    print(
        f"{len(slots)} pairs ({len(shared) - len(slots)} slots with the same poem on both sides left out) → "
        f"{folder / 'pairs.md'} (for raters), {folder / 'pairs_key.json'} (not for raters)"
    )


@app.command()
def tally(
    folder: Annotated[
        list[Path],
        typer.Option(help="The panel's folder; given several times (one A/B on other seeds), also all together."),
    ],
) -> None:
    """Each variant's wins per rater and per form, and the distance from a fair coin, over answers and over pairs;
    for several panels of one comparison, the pairs of all of them together too."""
    b_shares: list[float] = []
    for panel in folder:
        if len(folder) > 1:
            print(f"{panel.name}:")
        b_shares += _tally_panel(panel)
    if len(folder) > 1:
        print(f"together by pair: {pair_z_text(b_shares)}")


def _tally_panel(folder: Path) -> list[float]:
    """Print one panel's tally; returns each pair's share of answers for B."""
    key = json.loads((folder / "pairs_key.json").read_text(encoding="utf-8"))["pairs"]
    files = sorted(folder.glob("pair-ratings-*.jsonl"))
    if not files:
        raise typer.BadParameter(f"no pair-ratings-*.jsonl in {folder}", param_hint="--folder")
    forms = list(dict.fromkeys(pair["form"] for pair in key.values()))

    def by_form_text(by_form: Counter[tuple[str, str]]) -> str:
        return " ".join(f"{form} {by_form[(form, 'A')]}:{by_form[(form, 'B')]}" for form in forms)

    total: Counter[str] = Counter()
    total_by_form: Counter[tuple[str, str]] = Counter()
    b_votes: dict[str, list[bool]] = {}  # per pair, each rater's answer: B's poem chosen or not
    for path in files:
        wins: Counter[str] = Counter()
        by_form: Counter[tuple[str, str]] = Counter()
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            answer = json.loads(line)
            pair = key.get(answer.get("id"))
            if pair is None or answer.get("better") not in (1, 2):
                raise typer.BadParameter(f"{path.name}: not an answer to a pair of this panel: {line}")
            if pair.get("same"):
                continue  # a panel made before `make` left out identical pairs
            side = pair[str(answer["better"])]
            wins[side] += 1
            b_votes.setdefault(answer["id"], []).append(side == "B")
            by_form[(pair["form"], side)] += 1
        rater = path.stem.removeprefix("pair-ratings-")
        print(f"rater {rater}: A {wins['A']}, B {wins['B']} of {sum(wins.values())} ({by_form_text(by_form)})")
        total += wins
        total_by_form += by_form
    answered = sum(total.values())
    z = (total["B"] - answered / 2) / math.sqrt(answered / 4)
    print(
        f"all raters: A {total['A']}, B {total['B']} of {answered}; B's share {total['B'] / answered:.1%}, "
        f"z = {z:+.2f} against a fair coin ({by_form_text(total_by_form)})"
    )
    b_shares = [sum(votes) / len(votes) for votes in b_votes.values()]
    print(f"by pair: {pair_z_text(b_shares)}")
    return b_shares


def pair_z_text(b_shares: list[float]) -> str:
    """The distance from a fair coin with the pair as the unit: raters of one pair mostly agree (two of them 80% of
    the time), so its answers are not independent and the answers' z above overstates the evidence — six panels of
    the shipped model against itself (session 25) gave z from −2.85 to +0.79 over answers. The mean of the pairs'
    B shares against 0.5, over its standard error across pairs."""
    pairs = len(b_shares)
    mean = statistics.mean(b_shares)
    error = statistics.stdev(b_shares) / math.sqrt(pairs) if pairs > 1 else 0.0
    if error == 0.0:
        return f"{pairs} pairs, B's mean share {mean:.1%}; every pair's share alike, no spread to judge by"
    return f"{pairs} pairs, B's mean share {mean:.1%}, z = {(mean - 0.5) / error:+.2f}"


if __name__ == "__main__":
    app()
