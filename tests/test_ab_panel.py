"""bench/ab_panel.py: pairs of our poems, one per slot where the two variants differ, and the tally."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bench_scripts import load_bench_script
from typer.testing import CliRunner

ab_panel = load_bench_script("ab_panel")


def invoke(*args: object):
    return CliRunner().invoke(ab_panel.app, [str(arg) for arg in args])


def write_poems(path: Path, poems: list[list[str]]) -> Path:
    records = [{"theme": "月", "form": "wujue", "lines": lines} for lines in poems]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


SAME = ["明月照高楼", "清光满玉钩", "故人千里外", "何处寄离愁"]
A_ONLY = ["明月出东山", "清辉照客还", "相思千里外", "独坐夜深闲"]
B_ONLY = ["月落乌啼处", "霜天客未眠", "江枫渔火外", "钟到夜船边"]


def test_rounds_of_one_theme_and_form_are_slots_of_their_own(tmp_path):
    # three rounds (seeds) of the same theme and form: the first alike, the second and third different
    a = write_poems(tmp_path / "a.jsonl", [SAME, A_ONLY, SAME])
    b = write_poems(tmp_path / "b.jsonl", [SAME, B_ONLY, A_ONLY])
    folder = tmp_path / "panel"
    made = invoke("make", "--a", a, "--b", b, "--folder", folder, "--seed", 3)
    assert made.exit_code == 0, made.output
    key = json.loads((folder / "pairs_key.json").read_text(encoding="utf-8"))["pairs"]
    assert sorted(key) == ["Q001", "Q002"]  # the round both chose alike is left out
    sheet = (folder / "pairs.md").read_text(encoding="utf-8")
    shown = re.findall(r"  [12]\. (\S+)", sheet)
    assert sorted(shown) == sorted(
        [
            "".join(f"{line}{'，' if i % 2 == 0 else '。'}" for i, line in enumerate(p))
            for p in (A_ONLY, B_ONLY, SAME, A_ONLY)
        ]
    )

    # a rater who always picks B's poem
    answers = [{"id": pair_id, "better": 1 if sides["1"] == "B" else 2} for pair_id, sides in key.items()]
    (folder / "pair-ratings-x.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers))
    tallied = invoke("tally", "--folder", folder)
    assert tallied.exit_code == 0, tallied.output
    assert "rater x: A 0, B 2 of 2 (wujue 0:2)" in tallied.output
    # a second rater who always picks A's: the totals add both, by form too
    answers = [{"id": pair_id, "better": 2 if sides["1"] == "B" else 1} for pair_id, sides in key.items()]
    (folder / "pair-ratings-y.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers))
    tallied = invoke("tally", "--folder", folder)
    assert "all raters: A 2, B 2 of 4; B's share 50.0%, z = +0.00 against a fair coin (wujue 2:2)" in tallied.output
    assert "by pair: 2 pairs, B's mean share 50.0%; every pair's share alike" in tallied.output
    # the same comparison on other seeds: each panel alone, then all their pairs together
    again = tmp_path / "again"
    again.mkdir()
    (again / "pairs_key.json").write_text((folder / "pairs_key.json").read_text(encoding="utf-8"), encoding="utf-8")
    (again / "pair-ratings-z.jsonl").write_text(
        (folder / "pair-ratings-x.jsonl").read_text(encoding="utf-8"), encoding="utf-8"
    )
    both = invoke("tally", "--folder", folder, "--folder", again)
    assert both.exit_code == 0, both.output
    assert both.output.startswith("panel:\n") and "\nagain:\nrater z: A 0, B 2 of 2" in both.output
    assert "together by pair: 4 pairs, B's mean share 75.0%, z = +1.73" in both.output


def test_the_pair_is_the_unit_of_the_sound_z():
    """Pairs' B shares 1, 1, ½, 1: mean 0.875, standard error 0.125, so z = 3; four raters agreeing on 80 pairs
    count as 80 pairs, not 320 answers."""
    assert ab_panel.pair_z_text([1.0, 1.0, 0.5, 1.0]) == "4 pairs, B's mean share 87.5%, z = +3.00"
    unanimous = [1.0] * 45 + [0.0] * 35
    assert ab_panel.pair_z_text(unanimous).endswith("z = +1.12")  # over 320 answers of four raters: +2.24
