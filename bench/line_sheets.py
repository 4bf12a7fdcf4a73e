"""Sheets of our poems for readers to mark, line by line, the lines that fail: the data of the line reader
(bench/line_reader.py) and of the model's alignment to readers' marks (bench/align.py); and the comparison of two
sets of sheets.

A sheet is a folder holding `lines.md` (the only file its rater sees) and `lines_key.json` (each item's poem,
theme and form, and where it came from); the rater writes `flags-NAME.jsonl` beside them.

    bench/line_sheets.py compare '2026-11-29-line-flags-aligned/j*11' '2026-11-29-line-flags-aligned/l*12' \
        --raters-a 'flags-j?12.jsonl'

`compare` pairs the poems of two sets of sheets by request (theme, form, seed: sheets written for the same requests)
and reports the share of lines marked on each side and the mean difference per request. Raters drift between
sessions by as much as a change is worth (the same 480 poems: 20.9% of lines marked in session 11, 22.9% in session
12), so a comparison needs both sides read in one session: `--raters-a`/`--raters-b` choose which raters' files count.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path
from typing import Annotated

import typer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository, before bench/ (bench/engine.py)
from engine.preference import MarkedPoem  # noqa: E402

sys.path.insert(1, str(Path(__file__).resolve().parent))
from panel import PANELS_DIR  # noqa: E402

INSTRUCTIONS = """# Which lines do not read?

Read only this sheet; do not open any other file and do not look anything up: judge from the text alone.
Each item is one poem of a given form written on a theme (题), its lines numbered. Read the poem as a whole,
as a scholar of classical poetry would, then name every line that fails: a line that is not grammatical,
idiomatic classical Chinese (a made-up phrase, words that cannot go together, no sense to be made of it), or
one that makes no sense where it stands (it contradicts the rest: another season, time of day or scene; or it
does not follow from the lines before). Prosody (rhyme, 平仄) is not judged. A line that is plain or
commonplace but reads and fits is not a failure. Many poems have no such line; some have several.

Write one JSON object per item, one per line, to the answer file named in your instructions:
{"id": "L001", "bad": [list of failing line numbers, empty if none], "note": "<= 15 words"}
"""


def write_sheet(folder: Path, poems: list[dict]) -> None:
    """One sheet of `poems` (each with "lines", "theme", "form" and whatever says where it came from), in order."""
    blocks, key = [], {}
    for index, poem in enumerate(poems, 1):
        poem_id = f"L{index:03d}"
        numbered = "\n".join(f"  {n}. {line}" for n, line in enumerate(poem["lines"], 1))
        blocks.append(f"- {poem_id}　题：{poem['theme']}\n{numbered}")
        key[poem_id] = poem
    folder.mkdir()
    (folder / "lines.md").write_text(f"{INSTRUCTIONS}\n" + "\n".join(blocks) + "\n", encoding="utf-8")
    (folder / "lines_key.json").write_text(json.dumps(key, ensure_ascii=False) + "\n", encoding="utf-8")


def answers(key: dict, answer_file: Path) -> list[tuple[str, set[int]]]:
    """(poem id, the line numbers marked) for each answer in one rater's file that names a poem of the sheet's key."""
    found = []
    for raw in answer_file.read_text(encoding="utf-8").splitlines():
        answer = json.loads(raw) if raw.strip() else {}
        if answer.get("id") in key and isinstance(answer.get("bad"), list):
            found.append((answer["id"], {n for n in answer["bad"] if isinstance(n, int)}))
    return found


def read_sheets(panels: Path) -> list[tuple[str, MarkedPoem]]:
    """(sheet, poem with the share of its raters who marked each line) for every poem a rater marked, in every
    sheet under `panels`."""
    found = []
    for key_file in sorted(panels.rglob("lines_key.json")):
        key = json.loads(key_file.read_text(encoding="utf-8"))
        marked: dict[str, list[set[int]]] = {}
        for answer_file in sorted(key_file.parent.glob("flags-*.jsonl")):
            for poem_id, bad in answers(key, answer_file):
                marked.setdefault(poem_id, []).append(bad)
        for poem_id, readings in marked.items():
            poem = key[poem_id]
            shares = [
                sum(number in bad for bad in readings) / len(readings) for number in range(1, len(poem["lines"]) + 1)
            ]
            found.append(
                (
                    str(key_file.parent.relative_to(panels)),
                    MarkedPoem(poem["theme"], poem["form"], poem["lines"], shares),
                )
            )
    return found


Request = tuple[str, str, int]  # theme, form, seed


def marked_shares(panels: Path, sheets: str, raters: str) -> dict[Request, tuple[float, float]]:
    """Per request of the sheets matching `sheets` (a pattern under `panels`), read by the raters whose files match
    `raters`: (share of its lines marked, share of its rhyming lines marked), averaged over its raters."""
    readings: dict[Request, list[tuple[float, float]]] = {}
    for key_file in sorted(panels.glob(f"{sheets}/lines_key.json")):
        key = json.loads(key_file.read_text(encoding="utf-8"))
        for answer_file in sorted(key_file.parent.glob(raters)):
            for poem_id, bad in answers(key, answer_file):
                poem = key[poem_id]
                count = len(poem["lines"])
                rhyming = range(2, count + 1, 2)  # the even lines: 近体's rhyme slots
                share = len(bad & set(range(1, count + 1))) / count
                rhyming_share = len(bad & set(rhyming)) / len(rhyming)
                request = (poem["theme"], poem["form"], int(poem.get("seed", -1)))
                readings.setdefault(request, []).append((share, rhyming_share))
    return {
        request: (statistics.mean(s for s, _ in shares), statistics.mean(r for _, r in shares))
        for request, shares in readings.items()
    }


app = typer.Typer(add_completion=False, no_args_is_help=True, help="Line sheets: compare two sets.")


@app.callback()
def commands() -> None:
    """A group, so that `compare` is named on the command line as the README writes it."""


@app.command()
def compare(
    sheets_a: Annotated[str, typer.Argument(help="Sheet folders under bench/panels, a pattern.")],
    sheets_b: Annotated[str, typer.Argument(help="The other side's sheet folders.")],
    raters_a: Annotated[str, typer.Option(help="Which answer files of side A count.")] = "flags-*.jsonl",
    raters_b: Annotated[str, typer.Option(help="Which answer files of side B count.")] = "flags-*.jsonl",
    panels: Annotated[Path, typer.Option(hidden=True)] = PANELS_DIR,
) -> None:
    """Lines marked on each side, and B's share minus A's per request both sides wrote."""
    sides = {"A": marked_shares(panels, sheets_a, raters_a), "B": marked_shares(panels, sheets_b, raters_b)}
    for name, shares in sides.items():
        if not shares:
            raise typer.BadParameter(f"no answered sheets match side {name}'s patterns")
        lines = statistics.mean(s for s, _ in shares.values())
        rhyming = statistics.mean(r for _, r in shares.values())
        print(f"{name}: {len(shares)} poems, {lines:.1%} of lines marked (rhyming lines {rhyming:.1%})")
    common = sorted(sides["A"].keys() & sides["B"].keys())
    if len(common) < 2:
        print("fewer than two requests on both sides: no paired difference")
        return
    differences = [sides["B"][request][0] - sides["A"][request][0] for request in common]
    error = statistics.stdev(differences) / math.sqrt(len(differences))
    print(f"B - A over {len(common)} shared requests: {statistics.mean(differences):+.3f} (standard error {error:.3f})")


if __name__ == "__main__":
    app()
