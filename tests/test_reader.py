"""The readers (engine/reader.py): fitted to readers' choices and to the lines they mark, tied to their
weights, used in the ranking; and bench/reader.py and bench/line_reader.py, which gather their data from
the panels."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
import torch
from bench_scripts import load_bench_script
from transformers import AutoModelForCausalLM

import engine.poet
from bot.config import SHIPPED_MODEL, get_settings
from engine.backends import load_backend
from engine.backends.lean import LeanLlama
from engine.poet import CANDIDATES, LUSHI_CANDIDATES, TEMPERATURE, Poet
from engine.reader import (
    LINE_READER_FILE,
    READER_FILE,
    LineReader,
    Reader,
    fit,
    line_features,
    poem_text,
    read,
    weights_digest,
)
from engine.tokenizer import load_tokenizer


def test_fit_learns_what_the_readers_prefer():
    """Choices made by a hidden preference (with a fifth of them flipped, as readers disagree) are
    predicted on new pairs, and the weights point along the preference."""
    generator = torch.Generator().manual_seed(0)
    preference = torch.randn(16, generator=generator)
    first, second = torch.randn(2, 600, 16, generator=generator)
    first_chosen = (first - second) @ preference > 0
    flipped = torch.rand(600, generator=generator) < 0.2
    keep_first = first_chosen ^ flipped
    better = torch.where(keep_first[:, None], first, second)
    worse = torch.where(keep_first[:, None], second, first)
    weights = fit(better[:500], worse[:500], l2=1.0)
    held_out = ((better[500:] - worse[500:]) @ weights > 0).float().mean()
    assert held_out > 0.7
    assert torch.nn.functional.cosine_similarity(weights, preference, dim=0) > 0.8
    # a heavier penalty shrinks the weights
    assert fit(better, worse, l2=100.0).norm() < fit(better, worse, l2=1.0).norm()


def test_lean_states_and_logits_are_llamas():
    """Also for poems that open alike (a rewrite's candidates), whose shared opening the lean decoder runs once,
    and for poems read twice."""
    model = AutoModelForCausalLM.from_pretrained(SHIPPED_MODEL, dtype=torch.float32).eval()
    tokenizer = load_tokenizer(SHIPPED_MODEL)
    poems = [["床前明月光", "疑是地上霜"], ["床前明月光", "低头思故乡"], ["床前明月光", "疑是地上霜"]]
    ids = torch.tensor([tokenizer.encode(poem_text(lines, "wujue"), add_special_tokens=False) for lines in poems])
    lean = LeanLlama(model)
    for batch in (ids[:1], ids, ids[:2, :1]):  # the last: one token, nothing shared before it
        states, logits = lean.states_and_logits(batch)
        for row, sequence in enumerate(batch):
            with torch.no_grad():
                reference = model(input_ids=sequence[None], output_hidden_states=True)
            assert torch.allclose(states[row], reference.hidden_states[-1][0], atol=1e-4)
            assert torch.allclose(logits[row], reference.logits[0], atol=1e-3)


def test_readings_keep_the_order_of_poems_of_different_lengths():
    backend = load_backend(SHIPPED_MODEL, "cpu-fp32")
    tokenizer = load_tokenizer(SHIPPED_MODEL)
    poems = [(["床前明月光", "疑是地上霜"], "wujue"), (["朝辞白帝彩云间", "千里江陵一日还", "两岸猿声啼不住"], "qijue")]
    ids = [tokenizer.encode(poem_text(lines, form), add_special_tokens=False) for lines, form in poems]
    lengths = [[len(line) for line in lines] for lines, _ in poems]
    together = read(backend, [ids[0], ids[1], ids[0]], [lengths[0], lengths[1], lengths[0]])
    assert together.poems.shape == (3, 2 * 384)
    assert [lines.shape for lines in together.lines] == [(2, 2 * 384 + 6), (3, 2 * 384 + 6), (2, 2 * 384 + 6)]
    alone = read(backend, [ids[1]], [lengths[1]])
    assert torch.allclose(together.poems[1], alone.poems[0], atol=1e-5)
    assert torch.allclose(together.lines[1], alone.lines[0], atol=1e-4)
    assert torch.allclose(together.poems[0], together.poems[2])


def test_line_features_read_each_line_and_its_place():
    """Two lines of 2 characters after a prompt of 3 tokens: each line's mean state, its end mark's state,
    its characters' log-probabilities, and where it stands."""
    states = torch.arange(9.0)[:, None].repeat(1, 2)  # (T, C=2): state t is (t, t)
    log_probs = -torch.arange(9.0) / 10  # (T,)
    features = line_features(states, log_probs, [2, 2])
    # line one: tokens 3 and 4, its mark 5; line two: 6 and 7, its mark 8
    assert features[0].tolist() == pytest.approx([3.5, 3.5, 5, 5, -0.35, -0.4, -0.4, 0, 0, 0])
    assert features[1].tolist() == pytest.approx([6.5, 6.5, 8, 8, -0.65, -0.7, -0.7, 1, 0, 1])


def test_the_line_reader_learns_which_lines_fail():
    """Lines marked by a hidden rule (the marks a share of raters, as raters disagree) are ranked on new
    lines; the fit works on features of any scale."""
    generator = torch.Generator().manual_seed(0)
    rule = torch.randn(12, generator=generator)
    features = torch.randn(1200, 12, generator=generator) * torch.logspace(-2, 2, 12)  # scales a hundredfold apart
    chance = torch.sigmoid(features / torch.logspace(-2, 2, 12) @ rule - 1.0)
    shares = (torch.rand(1200, 3, generator=generator) < chance[:, None]).float().mean(1)  # three raters each
    reader = LineReader.fit(features[:1000], shares[:1000], l2=0.01, weights_sha256="x")
    predicted = reader.failing(features[1000:])
    truly = chance[1000:]
    assert torch.corrcoef(torch.stack([predicted, truly]))[0, 1] > 0.9
    assert abs(float(predicted.mean() - shares[1000:].mean())) < 0.05


def test_a_reader_serves_only_the_weights_it_was_fitted_on(tmp_path, caplog):
    folder = tmp_path / "model"
    shutil.copytree(SHIPPED_MODEL, folder)
    Reader(torch.ones(4), weights_digest(folder), choices=10, l2=1.0).save(folder)
    loaded = Reader.load(folder)
    assert loaded is not None and loaded.choices == 10 and loaded.scores(torch.eye(4)) == [1.0, 1.0, 1.0, 1.0]
    # weights changed (a fine-tune writes new ones): the reader no longer applies
    with open(folder / "model.safetensors", "ab") as handle:
        handle.write(b"\0")
    assert Reader.load(folder) is None
    # and it says so, naming the file and what to do
    assert f"{folder / READER_FILE} was fitted on other weights" in caplog.text and "refit it" in caplog.text
    caplog.clear()
    (folder / READER_FILE).unlink()
    assert Reader.load(folder) is None
    assert not caplog.text, "a folder without a reader is not worth a warning"


def test_a_line_reader_serves_only_the_weights_it_was_fitted_on(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(SHIPPED_MODEL, folder)
    LineReader(torch.ones(2), -1.0, torch.zeros(2), torch.ones(2), weights_digest(folder), lines=9, l2=0.1).save(folder)
    loaded = LineReader.load(folder)
    assert loaded is not None and loaded.lines == 9
    assert loaded.failing(torch.tensor([[0.5, 0.5], [0.0, 0.0]])).tolist() == pytest.approx([0.5, 0.2689], abs=1e-4)
    with open(folder / "model.safetensors", "ab") as handle:
        handle.write(b"\0")
    assert LineReader.load(folder) is None
    (folder / LINE_READER_FILE).unlink()
    assert LineReader.load(folder) is None


def test_the_shipped_model_has_its_readers():
    reader = Reader.load(SHIPPED_MODEL)
    assert reader is not None, "engine/weights/default/reader.json is missing or was fitted on other weights"
    assert reader.choices > 1000
    line_reader = LineReader.load(SHIPPED_MODEL)
    assert line_reader is not None, "engine/weights/default/line_reader.json is missing or was fitted on other weights"
    assert line_reader.lines > 5000


@pytest.mark.parametrize(
    "weight, liking",
    [("READER_WEIGHT", lambda scores: scores["reader"]), ("LINE_READER_WEIGHT", lambda s: -sum(s["failing_lines"]))],
)
def test_the_ranking_follows_each_reader(monkeypatch, weight, liking):
    """With a reader's weight overwhelming, the poem chosen is the candidate it likes most (the reader's
    score; the fewest expected failing lines); turned against it, the one it likes least."""
    poet = Poet(SHIPPED_MODEL, "cpu-fp32", get_settings().corpus_lines)
    monkeypatch.setattr(engine.poet, "REWRITES", 0)
    try:
        chosen = {}
        for sign in (1, -1):
            monkeypatch.setattr(engine.poet, weight, sign * 100.0)
            chosen[sign] = asyncio.run(poet.compose("秋", form="qijue", seed=5, n_candidates=8))
        assert chosen[1].lines != chosen[-1].lines and liking(chosen[1].scores) > liking(chosen[-1].scores)
        # without weight, what the readers say is still reported
        monkeypatch.setattr(engine.poet, weight, 0.0)
        scores = asyncio.run(poet.compose("秋", form="qijue", seed=5)).scores
        assert isinstance(scores["reader"], float) and len(scores["failing_lines"]) == 4
        assert isinstance(scores["off_season"], str) and isinstance(scores["off_time"], str)
        # a plan of the setting only: the lines holding the theme's words rank it, there are no plan words
        assert scores["on_topic"] > 0 and scores["plan_followed"] == 0
    finally:
        asyncio.run(poet.close())


def test_the_theme_words_rank_only_a_lushi(monkeypatch):
    """A 律诗's lines holding the theme's words raise its rank (TOPIC_WEIGHT); a quatrain's do not (they stuffed
    its lines with the theme's words): with the weight overwhelming, only the 律诗's choice follows it."""
    poet = Poet(SHIPPED_MODEL, "cpu-int8", get_settings().corpus_lines)
    monkeypatch.setattr(engine.poet, "REWRITES", 0)
    monkeypatch.setattr(engine.poet, "LUSHI_REWRITES", 0)
    try:
        for form, follows in (("wujue", False), ("wulv", True)):
            chosen = {}
            for sign in (1, -1):
                monkeypatch.setattr(engine.poet, "TOPIC_WEIGHT", sign * 100.0)
                chosen[sign] = asyncio.run(poet.compose("西湖", form=form, seed=3, n_candidates=8))
            if follows:
                assert chosen[1].scores["on_topic"] > chosen[-1].scores["on_topic"], form
            else:
                assert chosen[1].lines == chosen[-1].lines and chosen[1].scores["on_topic"] > 0, form
    finally:
        asyncio.run(poet.close())


def test_no_reader_outranks_the_tones(monkeypatch):
    """Acrostic heads forced where 孤平's guard wants a 平 leave candidates that break the tones: however
    much the readers are made to like those, a poem that keeps the tones is chosen."""
    poet = Poet(SHIPPED_MODEL, "cpu-int8", get_settings().corpus_lines)
    monkeypatch.setattr(engine.poet, "REWRITES", 0)
    try:
        for weight in (100.0, -100.0):
            monkeypatch.setattr(engine.poet, "LINE_READER_WEIGHT", weight)
            monkeypatch.setattr(engine.poet, "READER_WEIGHT", -weight)
            for seed in range(4):
                poem = asyncio.run(poet.compose("归", form="wujue", acrostic="明月清风", seed=10_000 + seed))
                assert poem.report["tone_ok"], poem.text
    finally:
        asyncio.run(poet.close())


def test_a_poem_is_written_again_from_its_first_failing_line(monkeypatch):
    """Every candidate's third line read as failing: the poem chosen is written again from there with its
    first two lines kept, and the new candidates are ranked with the old."""
    poet = Poet(SHIPPED_MODEL, "cpu-fp32", get_settings().corpus_lines)
    ranked: list[list[list[str]]] = []
    best_poem = Poet._best_poem

    def recording(self, model, rows, candidates, *rest):
        ranked.append([list(lines) for lines in candidates])
        return best_poem(self, model, rows, candidates, *rest)

    def readers_marking(chances):
        """The readers as the test has them: no candidate preferred, `chances(lines)` of each line's mark."""

        async def read_all(self, model, candidates, form):
            return [0.0] * len(candidates), [chances(lines) for lines in candidates]

        return read_all

    monkeypatch.setattr(Poet, "_best_poem", recording)
    monkeypatch.setattr(Poet, "_read_all", readers_marking(lambda lines: [0.01, 0.01, 0.9, 0.01]))
    monkeypatch.setattr(engine.poet, "REWRITES", 1)
    try:
        poem = asyncio.run(poet.compose("秋", form="wujue", seed=3, n_candidates=6))
        first, second = ranked
        kept = next(lines for lines in first if lines[:2] == poem.lines[:2])  # the first pass's choice
        assert len(first) == 6 and len(second) == 12 and second[:6] == first
        assert all(lines[:2] == kept[:2] for lines in second[6:])
        assert any(lines[2:] != kept[2:] for lines in second[6:])
        assert poem.scores["rewritten_from_lines"] == [3] and poem.scores["candidates"] == 12
        # a first line of the user's is never written again: the rewrite starts after it
        monkeypatch.setattr(Poet, "_read_all", readers_marking(lambda lines: [0.9] * len(lines)))
        given = asyncio.run(poet.compose("", first_line="床前明月光", form="wujue", seed=4, n_candidates=4))
        assert given.lines[0] == "床前明月光" and given.scores["rewritten_from_lines"] == [2]
        # a 律诗 only from one of its last lines, in one round here
        monkeypatch.setattr(engine.poet, "LUSHI_REWRITES", 1)
        for tail, rewritten in ((0, []), (2, [7]), (4, [5]), (6, [3])):
            monkeypatch.setattr(engine.poet, "LUSHI_REWRITTEN_TAIL", tail)
            lushi = asyncio.run(poet.compose("秋", form="wulv", seed=5, n_candidates=4))
            assert lushi.scores["rewritten_from_lines"] == rewritten
        # lines 3-6 only from a higher chance than the closing couplet's
        between = (engine.poet.LUSHI_REWRITE_CHANCE + engine.poet.LUSHI_MIDDLE_REWRITE_CHANCE) / 2
        monkeypatch.setattr(Poet, "_read_all", readers_marking(lambda lines: [between] * len(lines)))
        lushi = asyncio.run(poet.compose("秋", form="wulv", seed=5, n_candidates=4))
        assert lushi.scores["rewritten_from_lines"] == [7]
        # a request that waited long in the queue (the last of a burst) is not rewritten
        monkeypatch.setattr(engine.poet, "MAX_QUEUED_FOR_REWRITE_S", -1.0)
        late = asyncio.run(poet.compose("秋", form="wulv", seed=5, n_candidates=4))
        assert late.scores["rewritten_from_lines"] == []
    finally:
        asyncio.run(poet.close())


def test_bench_line_reader_gathers_marks_and_counts_each_raters_share(tmp_path):
    bench_line_reader = load_bench_script("line_reader")
    sheet = tmp_path / "sheet"
    sheet.mkdir()
    key = {"L001": {"lines": ["明月照高楼", "清光满玉钩", "月落乌啼处", "霜天客未眠"], "theme": "月", "form": "wujue"}}
    (sheet / "lines_key.json").write_text(json.dumps(key, ensure_ascii=False), encoding="utf-8")
    (sheet / "flags-a.jsonl").write_text(json.dumps({"id": "L001", "bad": [2, 4]}) + "\n", encoding="utf-8")
    (sheet / "flags-b.jsonl").write_text(json.dumps({"id": "L001", "bad": [4]}) + "\n", encoding="utf-8")
    assert bench_line_reader.marks(tmp_path) == [("sheet", tuple(key["L001"]["lines"]), [0.0, 0.5, 0.0, 1.0])]
    assert bench_line_reader.auc([0.9, 0.1, 0.8, 0.2], [True, False, True, False]) == 1.0
    assert bench_line_reader.auc([0.1, 0.9, 0.5, 0.5], [True, False, True, False]) == 0.125


def test_bench_reader_gathers_ab_choices_and_leaves_whole_sheets_out(tmp_path):
    bench_reader = load_bench_script("reader")
    ab = tmp_path / "ab"
    ab.mkdir()
    (ab / "pairs.md").write_text(
        "# Which poem is better?\n\n- Q001　题：月\n  1. 明月照高楼，清光满玉钩。\n  2. 月落乌啼处，霜天客未眠。\n",
        encoding="utf-8",
    )
    (ab / "pair-ratings-x.jsonl").write_text(json.dumps({"id": "Q001", "better": 2}) + "\n", encoding="utf-8")
    sheet = tmp_path / "sheet"
    sheet.mkdir()
    shutil.copy(ab / "pairs.md", sheet / "pairs.md")
    shutil.copy(ab / "pair-ratings-x.jsonl", sheet / "pair-ratings-x.jsonl")
    (sheet / "key.json").write_text("{}", encoding="utf-8")
    assert bench_reader.choices(tmp_path) == [("ab", ("月落乌啼处", "霜天客未眠"), ("明月照高楼", "清光满玉钩"), "月")]


@pytest.mark.parametrize("form", ["wujue", "qilv"])
def test_reader_text_is_the_bare_poem_prompt(form):
    assert poem_text(["一二三四五"], form) == f"<bos><poem><{form}><sep>一二三四五，"


def test_the_bot_asks_for_the_engines_candidates():
    """Unset, the bot names no number and the engine samples its default for the form: 16 for a quatrain, 8
    for a 律诗 (readers could not tell a 律诗 of 16 candidates from one of 8)."""
    from bot.config import Settings
    from engine.forms import JINTI_FORMS
    from engine.poet import default_candidates

    assert Settings().poem_candidates is None
    assert [default_candidates(JINTI_FORMS[name]) for name in ("wujue", "qijue", "wulv", "qilv")] == [
        CANDIDATES,
        CANDIDATES,
        LUSHI_CANDIDATES,
        LUSHI_CANDIDATES,
    ]
    assert Settings().poem_temperature is None
    poet = Poet(SHIPPED_MODEL, "cpu-int8")
    try:
        for form, wanted in (("wujue", CANDIDATES), ("wulv", LUSHI_CANDIDATES), ("qilv", LUSHI_CANDIDATES)):
            poem = asyncio.run(poet.compose("月", form=form, seed=2))
            assert poem.params["n_candidates"] == wanted, form
            assert poem.params["temperature"] == TEMPERATURE, form
    finally:
        asyncio.run(poet.close())


def test_the_defaults_the_help_texts_name_are_the_engines():
    """The CLI and the settings must not import engine.poet (torch), so they name its defaults in words: the
    words must say what the engine does."""
    import typer.main

    from bot.cli import app
    from bot.config import Settings

    candidates = f"{CANDIDATES} for a quatrain, {LUSHI_CANDIDATES} for a 律诗"
    temperature = f"the engine's, {TEMPERATURE}"
    poem = typer.main.get_command(app).commands["poem"]  # type: ignore[attr-defined]
    helps = {param.name: param.help for param in poem.params}
    fields = Settings.model_fields
    env_example = (Path(__file__).resolve().parent.parent / ".env.example").read_text(encoding="utf-8")
    for text in (helps["candidates"], fields["poem_candidates"].description, env_example):
        assert candidates in text, text
    for text in (helps["temperature"], fields["poem_temperature"].description, env_example):
        assert temperature in text, text


def test_under_a_burst_requests_share_one_batch(monkeypatch):
    """Requests that together ask for more than a batch share it, none with fewer than
    MIN_CANDIDATES_UNDER_LOAD candidates, and none is rewritten while others wait."""
    monkeypatch.setattr(engine.poet, "REWRITES", 0)
    poet = Poet(SHIPPED_MODEL, "cpu-int8", max_batch_rows=32)

    async def burst():
        return await asyncio.gather(*(poet.compose("月", form="wujue", seed=i, n_candidates=16) for i in range(5)))

    try:
        poems = asyncio.run(burst())
        counts = [poem.scores["candidates"] for poem in poems]
        assert counts == [7, 7, 6, 6, 6]  # 32 rows shared out, instead of 16, 16 and a second batch
        assert poet.model.batcher.batches_run == 1
        assert [poem.params["n_candidates"] for poem in poems] == counts
        # alone again, a request gets all it asks for
        assert asyncio.run(poet.compose("月", form="wujue", seed=9, n_candidates=16)).scores["candidates"] == 16
        # every poem would be rewritten, but a rewrite starts only when no other rows are in flight
        monkeypatch.setattr(engine.poet, "REWRITES", 1)
        monkeypatch.setattr(engine.poet, "REWRITE_CHANCE", -1.0)
        batcher = poet.model.batcher
        submitted, run = [], batcher.run

        async def recording(rows, least=None):
            submitted.append((rows[0].seed % 1000 >= 100, batcher.rows_in_flight))
            return await run(rows, least)

        monkeypatch.setattr(batcher, "run", recording)
        rewritten = [poem.scores["rewritten_from_lines"] for poem in asyncio.run(burst())]
        assert [waiting for rewrite, waiting in submitted if rewrite] == [0] * sum(map(len, rewritten))
        assert 0 < sum(map(len, rewritten)) < 5  # the first ones finished while others were still waiting
    finally:
        asyncio.run(poet.close())
