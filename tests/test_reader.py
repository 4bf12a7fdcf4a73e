"""The reader (engine/reader.py): fitted to readers' choices, tied to its weights, used in the ranking;
and bench/reader.py, which gathers the choices from the panels."""

from __future__ import annotations

import asyncio
import json
import shutil

import pytest
import torch
from bench_scripts import load_bench_script
from transformers import AutoModelForCausalLM

import engine.poet
from bot.config import SHIPPED_MODEL, get_settings
from engine.backends import load_backend
from engine.backends.lean import LeanLlama
from engine.poet import Poet
from engine.reader import READER_FILE, Reader, features, fit, poem_text, weights_digest
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


def test_lean_final_states_are_llamas_last_hidden_state():
    model = AutoModelForCausalLM.from_pretrained(SHIPPED_MODEL, dtype=torch.float32).eval()
    tokenizer = load_tokenizer(SHIPPED_MODEL)
    ids = torch.tensor([tokenizer.encode(poem_text(["床前明月光", "疑是地上霜"], "wujue"), add_special_tokens=False)])
    with torch.no_grad():
        reference = model.model(input_ids=ids).last_hidden_state
    assert torch.allclose(LeanLlama(model).final_states(ids, torch.zeros(1, dtype=torch.long)), reference, atol=1e-4)


def test_features_keep_the_order_of_poems_of_different_lengths():
    backend = load_backend(SHIPPED_MODEL, "cpu-fp32")
    tokenizer = load_tokenizer(SHIPPED_MODEL)
    poems = [(["床前明月光", "疑是地上霜"], "wujue"), (["朝辞白帝彩云间", "千里江陵一日还"], "qijue")]
    ids = [tokenizer.encode(poem_text(lines, form), add_special_tokens=False) for lines, form in poems]
    together = features(backend, [ids[0], ids[1], ids[0]])
    assert together.shape == (3, 2 * 384)
    assert torch.allclose(together[0], features(backend, [ids[0]])[0], atol=1e-5)
    assert torch.allclose(together[1], features(backend, [ids[1]])[0], atol=1e-5)
    assert torch.allclose(together[0], together[2])


def test_a_reader_serves_only_the_weights_it_was_fitted_on(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(SHIPPED_MODEL, folder)
    Reader(torch.ones(4), weights_digest(folder), choices=10, l2=1.0).save(folder)
    loaded = Reader.load(folder)
    assert loaded is not None and loaded.choices == 10 and loaded.scores(torch.eye(4)) == [1.0, 1.0, 1.0, 1.0]
    # weights changed (a fine-tune writes new ones): the reader no longer applies
    with open(folder / "model.safetensors", "ab") as handle:
        handle.write(b"\0")
    assert Reader.load(folder) is None
    (folder / READER_FILE).unlink()
    assert Reader.load(folder) is None


def test_the_shipped_model_has_its_reader():
    reader = Reader.load(SHIPPED_MODEL)
    assert reader is not None, "engine/weights/default/reader.json is missing or was fitted on other weights"
    assert reader.choices > 1000


def test_the_ranking_follows_the_reader(monkeypatch):
    """With the reader's weight overwhelming, the poem chosen is the candidate the reader likes most;
    turned against it, the one it likes least."""
    poet = Poet(SHIPPED_MODEL, "cpu-fp32", get_settings().corpus_lines)
    try:
        chosen = {}
        for sign in (1, -1):
            monkeypatch.setattr(engine.poet, "READER_WEIGHT", sign * 100.0)
            chosen[sign] = asyncio.run(poet.compose("秋", form="qijue", seed=5, n_candidates=8))
        liked, disliked = chosen[1].scores["reader"], chosen[-1].scores["reader"]
        assert chosen[1].lines != chosen[-1].lines and liked > disliked
        monkeypatch.setattr(engine.poet, "READER_WEIGHT", 0.0)
        assert "reader" in asyncio.run(poet.compose("秋", form="qijue", seed=5)).scores
    finally:
        asyncio.run(poet.close())


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
    assert bench_reader.choices(tmp_path) == [("ab", ("月落乌啼处", "霜天客未眠"), ("明月照高楼", "清光满玉钩"))]


@pytest.mark.parametrize("form", ["wujue", "qilv"])
def test_reader_text_is_the_bare_poem_prompt(form):
    assert poem_text(["一二三四五"], form) == f"<bos><poem><{form}><sep>一二三四五，"


def test_the_bot_asks_for_the_engines_candidates():
    from bot.config import Settings
    from engine.poet import CANDIDATES

    assert Settings().poem_candidates == CANDIDATES


def test_under_a_burst_later_requests_get_fewer_candidates():
    """While the rows in flight fill a batch, a request samples only MIN_CANDIDATES_UNDER_LOAD."""
    poet = Poet(SHIPPED_MODEL, "cpu-int8", max_batch_rows=32)

    async def burst():
        return await asyncio.gather(*(poet.compose("月", form="wujue", seed=i, n_candidates=16) for i in range(5)))

    try:
        counts = [poem.scores["candidates"] for poem in asyncio.run(burst())]
        least = engine.poet.MIN_CANDIDATES_UNDER_LOAD
        assert counts == [16, 16, least, least, least]
        # alone again, a request gets all it asks for
        assert asyncio.run(poet.compose("月", form="wujue", seed=9, n_candidates=16)).scores["candidates"] == 16
    finally:
        asyncio.run(poet.close())
