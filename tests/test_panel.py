"""bench/panel.py: blind sheets that give nothing away, keys that match them, and honest tallies."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from bench_scripts import load_bench_script
from typer.testing import CliRunner

SHEET_LINE = re.compile(r"- (P\d{3})　题：(\S+)　([\u4e00-\u9fff，。]+)")


panel = load_bench_script("panel")


def invoke(*args: str):
    return CliRunner().invoke(panel.app, [str(arg) for arg in args])


def real(poem_id: str, form: str, title: str, author: str = "无名氏", split: str = "train", line: str = "") -> dict:
    length = 5 if form in ("wujue", "wulv") else 7
    count = 4 if form in ("wujue", "qijue") else 8
    # Every poem's text differs, and the id is in it, so a test can tell which poem was picked.
    body = [(line or "山水清风明月云")[:length]] * (count - 1) + ["一二三四五六七八九十"[int(poem_id[-1])] * length]
    return {
        "id": poem_id,
        "dynasty": "tang",
        "author": author,
        "title": title,
        "lines": body,
        "form": form,
        "text": "",
        "split": split,
    }


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")
    return path


def ours(theme: str, form: str, **extra) -> dict:
    lines = {
        "wujue": ["明月照高楼", "清光满玉钩", "故人千里外", "何处寄离愁"],
        "qijue": ["春风吹绿柳丝长", "燕子飞来入画堂", "试问东君何处去", "桃花落尽满池塘"],
    }[form]
    return {"lines": lines, "form": form, "theme": theme, **extra}


@pytest.fixture
def hand_corpus(tmp_path) -> Path:
    """月 五绝s of every kind of preference; one obscure and one famous 春 七绝; nothing for 秋."""
    return write_jsonl(
        tmp_path / "corpus" / "poems.jsonl",
        [
            real("famous-test-1", "wujue", "月下独酌", author="李白", split="test"),
            real("plain-train-2", "wujue", "山月", split="train"),
            real("plain-val-3", "wujue", "秋月", split="val"),
            real("plain-test-4", "wujue", "对月", split="test"),
            real("no-theme-5", "wujue", "山居"),  # 月 only in the text
            real("other-form-6", "qijue", "月夜", split="val"),
            real("plain-train-7", "qijue", "春日", split="train"),
            real("famous-val-8", "qijue", "春望", author="杜甫", split="val"),
        ],
    ).parent


def make_panel(tmp_path: Path, ours_records: list[dict], corpus: Path, name: str = "t", seed: int = 0, *extra: str):
    ours_file = write_jsonl(tmp_path / f"ours-{name}.jsonl", ours_records)
    return invoke(
        "make",
        "--ours",
        ours_file,
        "--name",
        name,
        "--seed",
        seed,
        "--corpus",
        corpus,
        "--panels",
        tmp_path / "panels",
        *extra,
    )


def sheet_rows(folder: Path) -> list[tuple[str, str, str]]:
    return [
        match.groups() for match in map(SHEET_LINE.fullmatch, (folder / "sheet.md").read_text().splitlines()) if match
    ]


def test_sheet_gives_nothing_away_on_the_fixture_corpus(tmp_path, built_corpus):
    records = [
        ours("雪", "qijue", model_version="v-secret-7", params={"theme": "雪", "temperature": 0.9}),
        ours("乌衣巷", "qijue"),
        ours("乌衣巷", "qijue"),
        ours("相思", "wujue"),
    ]
    result = make_panel(tmp_path, records, built_corpus)
    assert result.exit_code == 0, result.output
    folder = tmp_path / "panels" / "t"
    sheet = (folder / "sheet.md").read_text()
    key = json.loads((folder / "key.json").read_text())
    rows = sheet_rows(folder)
    poem_lines = [line for line in sheet.splitlines() if line.startswith("- P")]
    # Every poem line is exactly id, theme and text: no room for a title, an author or a source.
    assert len(rows) == len(poem_lines) == 8
    reals = [entry for entry in key["poems"].values() if entry["source"] == "real"]
    assert {entry["author"] for entry in reals} == {"幸夤逊", "朱存", "王维"}
    for entry in reals:
        assert entry["author"] not in sheet and entry["corpus_id"] not in sheet
        if entry["title"] != entry["theme"]:
            assert entry["title"] not in sheet
    for secret in ("v-secret-7", "temperature", "tang", "song", "唐", "宋"):
        assert secret not in sheet
    assert "do not open any other file" in sheet and '"poeticness"' in sheet
    # The two 乌衣巷 poems of the fixture go one to each poem of ours.
    alley = [entry["corpus_id"] for entry in reals if entry["theme"] == "乌衣巷"]
    assert len(alley) == 2 and len(set(alley)) == 2


def test_key_covers_every_id_once_and_pairs_share_form_and_theme(tmp_path, hand_corpus):
    records = [ours("月", "wujue"), ours("月", "wujue"), ours("春", "qijue"), ours("秋", "wujue", params={"x": 1})]
    result = make_panel(tmp_path, records, hand_corpus, "k", 0, "--pairs")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "panels" / "k"
    key = json.loads((folder / "key.json").read_text())
    sheet_ids = [poem_id for poem_id, _, _ in sheet_rows(folder)]
    assert sorted(sheet_ids) == sorted(key["poems"]) == [f"P{n:03d}" for n in range(1, 7)]
    sources = [entry["source"] for entry in key["poems"].values()]
    assert sources.count("ours") == sources.count("real") == 3
    for poem_id, theme, text in sheet_rows(folder):
        entry = key["poems"][poem_id]
        assert theme == entry["theme"] and text.replace("，", "").replace("。", "") == "".join(entry["lines"])
        if entry["source"] == "real":
            assert entry["theme"] in entry["title"] and entry["corpus_id"] != "no-theme-5"
            assert entry["form"] == {"月": "wujue", "春": "qijue"}[theme]
    # 秋 has no 五绝 in this corpus: that poem of ours is skipped and said so, not given another form.
    assert key["skipped"] == [{"ours_line": 4, "form": "wujue", "theme": "秋"}]
    assert "skipped line 4" in result.output
    pairs = json.loads((folder / "pairs_key.json").read_text())["pairs"]
    assert len(pairs) == 3
    for pair_id, pair in pairs.items():
        first, second = key["poems"][pair["1"]], key["poems"][pair["2"]]
        assert {first["source"], second["source"]} == {"ours", "real"}
        assert first["theme"] == second["theme"] == pair["theme"] and first["form"] == second["form"]
        assert key["poems"][pair[str(pair["ours"])]]["source"] == "ours"
        assert f"- {pair_id}　题：{pair['theme']}" in (folder / "pairs.md").read_text()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_picks_obscure_held_out_poems_first_and_never_one_twice(tmp_path, hand_corpus, seed):
    records = [
        ours("月", "wujue"),
        ours("月", "wujue"),
        ours("月", "wujue"),
        ours("月", "wujue"),
        ours("春", "qijue"),
        ours("春", "qijue"),
    ]
    result = make_panel(tmp_path, records, hand_corpus, "s", seed)
    assert result.exit_code == 0, result.output
    poems = json.loads((tmp_path / "panels" / "s" / "key.json").read_text())["poems"]
    picked = {
        entry["ours_line"]: poems[entry["counterpart"]]["corpus_id"]
        for entry in poems.values()
        if entry["source"] == "ours"
    }
    # Obscure held-out poems first (the seed picks which), then obscure train ones, then a famous poet's:
    # 杜甫's held-out 春望 loses to an obscure train poem, since a recognised poem is no longer blind.
    assert {picked[1], picked[2]} == {"plain-val-3", "plain-test-4"}
    assert picked[3] == "plain-train-2" and picked[4] == "famous-test-1"
    assert picked[5] == "plain-train-7" and picked[6] == "famous-val-8"


def test_same_seed_same_panel_other_seed_other_order(tmp_path, hand_corpus):
    records = [ours("月", "wujue"), ours("月", "wujue"), ours("月", "wujue"), ours("春", "qijue"), ours("春", "qijue")]
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        assert make_panel(tmp_path, records, hand_corpus, name, seed, "--pairs").exit_code == 0
    folders = {name: tmp_path / "panels" / name for name in "abc"}
    keys = {name: json.loads((folder / "key.json").read_text())["poems"] for name, folder in folders.items()}
    assert (folders["a"] / "sheet.md").read_text() == (folders["b"] / "sheet.md").read_text()
    assert (folders["a"] / "pairs.md").read_text() == (folders["b"] / "pairs.md").read_text()
    assert keys["a"] == keys["b"]
    assert (folders["a"] / "sheet.md").read_text() != (folders["c"] / "sheet.md").read_text()


def test_sources_are_shuffled_together(tmp_path, hand_corpus):
    records = [ours("月", "wujue"), ours("月", "wujue"), ours("春", "qijue")]
    orders = []
    for seed in range(6):
        assert make_panel(tmp_path, records, hand_corpus, f"o{seed}", seed).exit_code == 0
        poems = json.loads((tmp_path / "panels" / f"o{seed}" / "key.json").read_text())["poems"]
        orders.append(tuple(poems[poem_id]["source"] for poem_id in sorted(poems)))
    # Neither "ours first" nor "each of ours beside its real poem": the position says nothing.
    assert {order[0] for order in orders} == {"ours", "real"}
    assert len(set(orders)) > 2


def test_make_refuses_bad_input_with_a_message_not_a_traceback(tmp_path, hand_corpus):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"lines": ["明月照高楼"], "form": "wujue", "theme": "月"}\nnot json\n'
        + json.dumps({**ours("月", "wujue"), "theme": None})
        + "\n"
        + json.dumps({**ours("月", "wujue"), "form": "sonnet"})
        + "\n",
        encoding="utf-8",
    )
    result = invoke("make", "--ours", bad, "--name", "x", "--corpus", hand_corpus, "--panels", tmp_path / "p")
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    for expected in (
        "line 1: the lines (5 characters) are not a wujue",
        "line 2: not JSON",
        "line 3: no theme",
        'line 4: "form" must be one of',
    ):
        assert expected in result.output
    assert not (tmp_path / "p" / "x").exists()

    good = write_jsonl(tmp_path / "good.jsonl", [ours("月", "wujue")])
    missing = invoke(
        "make", "--ours", good, "--name", "x", "--corpus", tmp_path / "nowhere", "--panels", tmp_path / "p"
    )
    assert missing.exit_code == 2 and "lianju corpus build" in missing.output.replace("\n", " ")

    assert make_panel(tmp_path, [ours("月", "wujue")], hand_corpus, "once").exit_code == 0
    again = make_panel(tmp_path, [ours("月", "wujue")], hand_corpus, "once")
    assert again.exit_code == 2 and "--force" in again.output
    assert make_panel(tmp_path, [ours("月", "wujue")], hand_corpus, "once", 0, "--force").exit_code == 0


def test_theme_from_params_and_punctuated_lines_are_accepted(tmp_path, hand_corpus):
    record = {
        "lines": ["明月照高楼，", "清光满玉钩。", "故人千里外，", "何处寄离愁。"],
        "form": "五绝",
        "params": {"theme": "月"},
        "model_version": "v3",
        "seed": 11,
    }
    assert make_panel(tmp_path, [record], hand_corpus).exit_code == 0
    key = json.loads((tmp_path / "panels" / "t" / "key.json").read_text())
    mine = next(entry for entry in key["poems"].values() if entry["source"] == "ours")
    assert mine["lines"][0] == "明月照高楼" and mine["form"] == "wujue" and mine["theme"] == "月"
    assert mine["model_version"] == "v3" and mine["params"] == {"theme": "月"} and mine["seed"] == 11


def write_key(folder: Path) -> None:
    """Two of ours (a 五绝, a 七绝) and two real poems, written by hand so a tally can be checked by hand."""
    folder.mkdir(parents=True)
    poems = {"P001": ("ours", "wujue"), "P002": ("real", "wujue"), "P003": ("ours", "qijue"), "P004": ("real", "qijue")}
    (folder / "key.json").write_text(
        json.dumps(
            {
                "panel": folder.name,
                "poems": {
                    poem_id: {"source": source, "form": form, "theme": "月", "lines": []}
                    for poem_id, (source, form) in poems.items()
                },
            }
        ),
        encoding="utf-8",
    )


def rating(poem_id: str, scores: tuple[int, int, int, int, int], human: int) -> str:
    return json.dumps({"id": poem_id, **dict(zip(panel.CRITERIA, scores)), "human": human, "note": "好"})


def table_row(tally: str, *first_cells: str) -> list[str]:
    prefix = "| " + " | ".join(first_cells) + " |"
    row = next(line for line in tally.splitlines() if line.startswith(prefix))
    return [cell.strip() for cell in row.strip("|").split("|")]


def test_tally_computes_means_human_share_and_agreement(tmp_path):
    folder = tmp_path / "panels" / "m"
    write_key(folder)
    (folder / "ratings-wang.jsonl").write_text(
        "\n".join(
            [
                rating("P001", (2, 3, 2, 1, 2), 0),
                rating("P002", (5, 5, 4, 5, 5), 1),
                rating("P003", (4, 4, 3, 3, 3), 1),
                rating("P004", (4, 4, 4, 4, 4), 1),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    (folder / "ratings-li.jsonl").write_text(
        "\n".join(
            [
                rating("P001", (3, 3, 3, 3, 3), 0),
                rating("P002", (5, 4, 5, 4, 5), 1),
                rating("P003", (3, 4, 4, 4, 4), 0),
                rating("P004", (2, 2, 2, 2, 2), 1),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    result = invoke("tally", "--name", "m", "--panels", tmp_path / "panels")
    assert result.exit_code == 0, result.output
    tally = (folder / "tally.md").read_text()
    # wang's ours: P001 and P003; theme (2+4)/2, fluency (3+4)/2 …; overall the mean of the poems' means.
    assert table_row(tally, "wang", "ours") == [
        "wang",
        "ours",
        "2",
        "3.00",
        "3.50",
        "2.50",
        "2.00",
        "2.50",
        "2.70",
        "1 of 2 (50%)",
    ]
    assert table_row(tally, "all", "ours")[2:] == ["4", "3.00", "3.50", "3.00", "2.75", "3.00", "3.05", "1 of 4 (25%)"]
    assert table_row(tally, "all", "real")[2:] == ["4", "4.00", "3.75", "3.75", "3.75", "4.00", "3.85", "4 of 4 (100%)"]
    assert table_row(tally, "qijue")[1:3] == ["2", "3.50"]
    # Overall per poem: wang 2.0, 4.8, 3.4, 4.0 (ranks 1 4 2 3); li 3.0, 4.6, 3.8, 2.0 (ranks 2 4 3 1): ρ = 0.4.
    # Human guesses: wang 0 1 1 1, li 0 1 0 1: observed 0.75, chance 0.75·0.5 + 0.25·0.5 = 0.5, κ = 0.5.
    assert table_row(tally, "li", "wang") == ["li", "wang", "4", "0.40", "0.50"]
    assert "Problems" not in tally and "problem" not in result.output


def test_tally_skips_and_reports_malformed_lines(tmp_path):
    folder = tmp_path / "panels" / "bad"
    write_key(folder)
    good = [rating("P001", (2, 2, 2, 2, 2), 0), rating("P002", (4, 4, 4, 4, 4), 1)]
    broken = [
        "{not json",
        rating("P003", (6, 4, 4, 4, 4), 1),
        rating("P009", (4, 4, 4, 4, 4), 1),
        json.dumps({"id": "P004", "theme": 4, "fluency": 4, "coherence": 4, "meaning": 4, "human": 1}),
        rating("P004", (4, 4, 4, 4, 4), 2),
        json.dumps(
            {"id": "P003", "theme": "4", "fluency": 4, "coherence": 4, "meaning": 4, "poeticness": 4, "human": 1}
        ),
        "[1, 2]",
    ]
    (folder / "ratings-zhao.jsonl").write_text("\n".join(good + broken) + "\n", encoding="utf-8")
    result = invoke("tally", "--name", "bad", "--panels", tmp_path / "panels")
    assert result.exit_code == 0, result.output
    for expected in (
        "ratings-zhao.jsonl line 3: not JSON",
        "line 4: theme must be a whole number 1-5, got 6",
        'line 5: id "P009" is not on the sheet',
        "line 6: poeticness missing",
        "line 7: human must be a whole number 0-1, got 2",
        'line 8: theme must be a whole number 1-5, got "4"',
        "line 9: not a JSON object",
        "ratings-zhao.jsonl: 2 of 4 not answered: P003, P004",
    ):
        assert expected in result.output
        assert expected in (folder / "tally.md").read_text()
    tally = (folder / "tally.md").read_text()
    # Only the two good lines count.
    assert table_row(tally, "zhao", "ours")[2:4] == ["1", "2.00"]
    assert table_row(tally, "zhao", "real")[2:4] == ["1", "4.00"]
    assert "one rater: no agreement to measure" in tally


def test_tally_counts_pair_wins_and_refuses_an_empty_panel(tmp_path):
    folder = tmp_path / "panels" / "p"
    write_key(folder)
    empty = invoke("tally", "--name", "p", "--panels", tmp_path / "panels")
    assert empty.exit_code == 2 and "ratings-<name>.jsonl" in empty.output.replace("\n", " ")
    (folder / "pairs_key.json").write_text(
        json.dumps(
            {
                "pairs": {
                    "Q001": {"theme": "月", "form": "wujue", "1": "P001", "2": "P002", "ours": 1},
                    "Q002": {"theme": "月", "form": "qijue", "1": "P004", "2": "P003", "ours": 2},
                }
            }
        ),
        encoding="utf-8",
    )
    (folder / "pair-ratings-wang.jsonl").write_text('{"id": "Q001", "better": 1}\n{"id": "Q002", "better": 1}\n')
    (folder / "pair-ratings-li.jsonl").write_text('{"id": "Q001", "better": 1}\n{"id": "Q002", "better": 0}\n')
    result = invoke("tally", "--name", "p", "--panels", tmp_path / "panels")
    assert result.exit_code == 0, result.output
    tally = (folder / "tally.md").read_text()
    assert table_row(tally, "wang") == ["wang", "2", "1 of 2", "50%"]
    assert table_row(tally, "li") == ["li", "1", "1 of 1", "100%"]
    assert table_row(tally, "all") == ["all", "3", "2 of 3", "67%"]
    assert "pair-ratings-li.jsonl line 2: better must be a whole number 1-2, got 0" in result.output


def test_rank_statistics_by_hand():
    assert panel.ranks([3.0, 1.0, 3.0, 2.0]) == [3.5, 1.0, 3.5, 2.0]
    assert panel.spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert panel.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert panel.spearman([1, 2, 3], [4, 4, 4]) is None and panel.spearman([1], [2]) is None
    assert panel.cohen_kappa([1, 1, 0, 0], [1, 1, 0, 0]) == pytest.approx(1.0)
    assert panel.cohen_kappa([1, 0, 1, 0], [0, 1, 0, 1]) == pytest.approx(-1.0)
    assert panel.cohen_kappa([1, 1], [1, 1]) is None
