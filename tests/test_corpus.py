import json

import pytest

from bot.config import SHIPPED_MODEL
from engine.corpus import LineIndex, clean, split_of


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_build_writes_records_with_every_field(built_corpus):
    records = read_jsonl(built_corpus / "poems.jsonl")
    assert len(records) > 40
    for record in records:
        assert set(record) == {"id", "dynasty", "author", "title", "lines", "form", "text", "split"}
        assert record["split"] in ("train", "val", "test")
        assert all(record["lines"]), record
    chunwang = next(r for r in records if r["title"] == "春望")
    assert chunwang["author"] == "杜甫" and chunwang["dynasty"] == "tang"
    assert chunwang["form"] == "wulv"
    assert chunwang["lines"][0] == "国破山河在"  # 國 → 国: simplified
    forms = {r["form"] for r in records}
    assert {"wujue", "qijue", "wulv", "qilv", "other"} <= forms
    assert any(f.startswith("ci:") for f in forms)


def test_build_drops_and_repairs_with_reasons(built_corpus):
    summary = json.loads((built_corpus / "summary.json").read_text("utf-8"))
    # The fixture holds poems with lost characters (a □, a {…} composition), a stray "=", an exact
    # duplicate under another title, an empty one; and one with 一作 notes to repair.
    assert summary["dropped"] == {"missing_characters": 2, "mixed_script": 1, "duplicate": 1, "empty": 1}
    assert summary["repaired"] == {"editorial_notes": 1}
    records = read_jsonl(built_corpus / "poems.jsonl")
    assert summary["records"] == len(records)
    texts = [r["text"] for r in records]
    assert not any("一作" in t or "（" in t or "□" in t for t in texts)
    repaired = next(r for r in records if r["lines"][0].startswith("逻人"))
    assert repaired["lines"] == ["逻人横鸟道", "江祖出鱼梁", "水急客舟疾", "山花拂面香"]
    assert repaired["form"] == "wujue"
    assert sum(1 for r in records if r["title"].startswith("春晓")) == 1


def test_splits_are_a_deterministic_hash_of_the_text():
    assert split_of("床前明月光疑是地上霜") == split_of("床前明月光疑是地上霜")
    shares = [split_of(str(i)) for i in range(20_000)]
    assert 0.97 < shares.count("train") / len(shares) < 0.99
    # the same poem in traditional and simplified, with other titles: same key, same split
    traditional = clean({"paragraphs": ["牀前看月光，疑是地上霜。"], "title": "甲"}, "tang", "shi")
    simplified = clean({"paragraphs": ["床前看月光，疑是地上霜。"], "title": "乙"}, "tang", "shi")
    assert traditional.key == simplified.key
    assert traditional.record.split == simplified.record.split


def test_couplets_are_lines_three_to_six_of_lushi(built_corpus):
    records = {r["id"]: r for r in read_jsonl(built_corpus / "poems.jsonl")}
    couplets = read_jsonl(built_corpus / "couplets.jsonl")
    lushi = [r for r in records.values() if r["form"] in ("wulv", "qilv")]
    assert len(couplets) == 2 * len(lushi) > 0
    for pair in couplets:
        lines = records[pair["poem_id"]]["lines"]
        assert (pair["first"], pair["second"]) in [(lines[2], lines[3]), (lines[4], lines[5])]
        assert pair["split"] == records[pair["poem_id"]]["split"]


def test_line_index_answers_membership_and_containment(built_corpus):
    index = LineIndex(built_corpus / "corpus.sqlite")
    hits = index.find("國破山河在")  # traditional input finds the simplified line
    assert [(h.author, h.title, h.position) for h in hits] == [("杜甫", "春望", 0)]
    assert index.find("国破山河不在") == []
    moon = index.containing("月", limit=100)
    assert moon and all("月" in h.text for h in moon)
    records = read_jsonl(built_corpus / "poems.jsonl")
    expected = sum("月" in line for r in records for line in r["lines"])
    assert len(moon) == expected
    assert [h.text for h in index.containing("明月", limit=100)] == [
        line for r in records for line in r["lines"] if "明月" in line
    ]
    assert index.containing('"; DROP TABLE lines; --') == []
    assert index.containing("🌙") == []


def test_rebuild_replaces_the_folder(built_corpus, fixture_source, tmp_path):
    from engine.corpus import build

    out = tmp_path / "corpus"
    first = build(fixture_source, out, workers=1, progress=False)
    second = build(fixture_source, out, workers=2, progress=False)
    assert first.records == second.records
    assert sorted(p.name for p in out.iterdir()) == [
        "corpus.sqlite",
        "corpus_lines.bloom",
        "couplets.jsonl",
        "poems.jsonl",
        "summary.json",
    ]
    assert not list(tmp_path.glob(".corpus-*")) and not (tmp_path / "corpus.old").exists()


def test_strains_crosscheck_on_fixture(fixture_source):
    from engine.corpus import crosscheck_strains

    result = crosscheck_strains(fixture_source, progress=False)
    assert result.poems >= 15
    assert result.chars > 500
    assert result.agreement > 0.97


def test_novelty_filter_knows_every_corpus_line(built_corpus):
    from engine.novelty import CorpusLines

    lines = CorpusLines.load(built_corpus / "corpus_lines.bloom")
    records = read_jsonl(built_corpus / "poems.jsonl")
    assert all(line in lines for r in records for line in r["lines"])
    invented = [f"{a}{b}风月{c}" for a in "甲乙丙丁" for b in "子丑寅卯" for c in "东南西北"]
    assert sum(line in lines for line in invented) <= 1  # 0.1% false positives


def test_a_file_that_is_not_a_whole_novelty_filter_is_refused(built_corpus, tmp_path):
    """Read as a filter, random bytes or a filter cut short let copied lines through unnoticed."""
    from engine.novelty import CorpusLines, CorpusLinesError
    from engine.poet import ModelFolderError, Poet

    whole = (built_corpus / "corpus_lines.bloom").read_bytes()
    for name, content in {
        "empty": b"",
        "zeros": bytes(10),
        "cut": whole[: len(whole) // 2],
        "noise": bytes(range(256)) * 64,
    }.items():
        broken = tmp_path / f"{name}.bloom"
        broken.write_bytes(content)
        with pytest.raises(CorpusLinesError, match=str(broken)):
            CorpusLines.load(broken)
    with pytest.raises(ModelFolderError, match="LIANJU_CORPUS_LINES"):
        Poet(SHIPPED_MODEL, "cpu-int8", tmp_path / "noise.bloom")
