"""Sheets of our poems for readers to mark, line by line, the lines that fail: the data of the line reader
(bench/line_reader.py) and of the model's alignment to readers' marks (bench/align.py).

A sheet is a folder holding `lines.md` (the only file its rater sees) and `lines_key.json` (each item's poem,
theme and form, and where it came from); the rater writes `flags-NAME.jsonl` beside them.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.preference import MarkedPoem

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


def read_sheets(panels: Path) -> list[tuple[str, MarkedPoem]]:
    """(sheet, poem with the share of its raters who marked each line) for every poem a rater marked, in every
    sheet under `panels`."""
    found = []
    for key_file in sorted(panels.rglob("lines_key.json")):
        key = json.loads(key_file.read_text(encoding="utf-8"))
        marked: dict[str, list[set[int]]] = {}
        for answers in sorted(key_file.parent.glob("flags-*.jsonl")):
            for raw in answers.read_text(encoding="utf-8").splitlines():
                answer = json.loads(raw) if raw.strip() else {}
                if answer.get("id") in key and isinstance(answer.get("bad"), list):
                    marked.setdefault(answer["id"], []).append({n for n in answer["bad"] if isinstance(n, int)})
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
