"""Learning from ratings end to end, on the CPU with the tiny model: rated poems in a real SQLite
database → `lianju finetune`'s service → gates → registry → the poet serves the new model without
a restart → rollback. Plus: a garbage candidate is rejected, a killed run changes nothing, too
little data is skipped."""

import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot import learning
from bot.config import Settings
from bot.learning import run_finetune
from engine.finetune import RatedPoem, run_gates, select
from engine.poet import Poet
from engine.train import read_jsonl
from storage import repo
from storage.db import Database, create_engine, ensure_schema
from storage.models import FinetuneOutcome, FinetuneRun, ModelStatus
from storage.repo import DiscordUser, NewPoem

LIANJU = Path(sys.executable).with_name("lianju")


@pytest.fixture(scope="module")
def learning_corpus(built_corpus, tmp_path_factory) -> Path:
    """The fixture corpus with ten 近体 poems moved to the test split: the gates' held-out set."""
    corpus = tmp_path_factory.mktemp("learning") / "corpus"
    shutil.copytree(built_corpus, corpus)
    records = read_jsonl(corpus / "poems.jsonl")
    jinti = [r for r in records if r["form"] in ("wujue", "qijue", "wulv", "qilv")]
    for record in jinti[:10]:
        record["split"] = "test"
    (corpus / "poems.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return corpus


@pytest.fixture(scope="module")
def base_model(learning_corpus, tiny_config, tmp_path_factory) -> Path:
    """A tiny model trained long enough on the train split that garbage can make it worse."""
    from engine.train import train

    config = tiny_config(
        learning_corpus, tmp_path_factory.mktemp("base"), max_steps=150, lr=3e-3, eval_every=1000, checkpoint_every=1000
    )
    return train(config, progress=False)


@pytest.fixture
def settings(tmp_path, learning_corpus, base_model) -> Settings:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copytree(learning_corpus, data / "corpus")
    return Settings(data_dir=data, model_dir=base_model, corpus_lines=learning_corpus / "corpus_lines.bloom")


def environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "LIANJU_DATA_DIR": str(settings.data_dir),
        "LIANJU_MODEL_DIR": str(settings.model_dir),
        "LIANJU_CORPUS_LINES": str(settings.corpus_lines),
        "OMP_NUM_THREADS": "1",
    }


def seed_ratings(settings: Settings, poems: list[list[str]], stars: int = 5, raters: int = 8) -> None:
    async def seed():
        database = Database(create_engine(settings.database_url))
        await ensure_schema(database.engine, upgrade=True)
        async with database.unit_of_work() as session:
            await repo.ensure_default_model(session, str(settings.model_dir))
            for lines in poems:
                poem = await repo.save_poem(session, NewPoem(lines=lines, form="wujue", origin="bot", theme="月"))
                for user in range(1, raters + 1):
                    await repo.rate(session, poem.id, DiscordUser(user, f"reader{user}"), stars)
        await database.close()

    asyncio.run(seed())


def registry(settings: Settings):
    async def read():
        database = Database(create_engine(settings.database_url))
        async with database.unit_of_work() as session:
            versions = [(v.name, v.status, v.path) for v in await repo.list_models(session)]
            runs = [
                (r.outcome, r.gates)
                for r in (
                    await session.scalars(__import__("sqlalchemy").select(FinetuneRun).order_by(FinetuneRun.id))
                ).all()
            ]
        await database.close()
        return versions, runs

    return asyncio.run(read())


def new_poems(corpus: Path, count: int, seed: int = 0) -> list[list[str]]:
    """五绝 whose lines shuffle real lines: the shape is right and no line is in the corpus."""
    rng = random.Random(seed)
    records = [r for r in read_jsonl(corpus / "poems.jsonl") if r["form"] == "wujue"]
    corpus_lines = {line for r in records for line in r["lines"]}

    def shuffle(line: str) -> str:
        while (shuffled := "".join(rng.sample(line, len(line)))) in corpus_lines:
            pass  # a shuffle can give the line back unchanged
        return shuffled

    return [[shuffle(line) for line in rng.choice(records)["lines"]] for _ in range(count)]


def test_rated_poems_become_a_promoted_model_that_the_poet_serves_then_roll_back(settings):
    seed_ratings(settings, new_poems(settings.corpus_dir, 24))
    seed_ratings(settings, new_poems(settings.corpus_dir, 2, seed=9), stars=1)
    result = asyncio.run(run_finetune(settings, min_poems=20, samples=4, progress=False))
    assert result.outcome == "promoted", result
    assert result.counts["negatives"] == 2
    negatives = (settings.data_dir / "models" / "negatives.jsonl").read_text().splitlines()
    assert len(negatives) == 2 and all(json.loads(line)["ratings"] for line in negatives)
    dropped = sum(n for key, n in result.counts.items() if key.startswith("dropped_"))
    assert result.counts["positives"] + dropped + 2 == result.counts["rated_poems"] == 26
    assert result.counts["positives"] >= 20 and result.counts["corpus_poems"] > 0
    assert set(result.gates) == {"passed", "heldout_nll", "shape_ok", "distinct_2", "copy_rate", "feedback_nll"}
    versions, runs = registry(settings)
    assert [(name, status) for name, status, _ in versions] == [
        ("v0", ModelStatus.RETIRED),
        (versions[1][0], ModelStatus.ACTIVE),
    ]
    assert runs == [(FinetuneOutcome.PROMOTED, result.gates)]
    log = json.loads(Path(result.candidate).with_suffix(".log").read_text())
    assert log["gates"] == result.gates

    async def serve():
        poet = Poet(settings.model_dir, "cpu-fp32", version="v0")
        before = await poet.compose("月", form="wujue", seed=3, n_candidates=2)
        await poet.swap(Path(versions[1][2]), versions[1][0])
        after = await poet.compose("月", form="wujue", seed=3, n_candidates=2)
        await poet.close()
        return before, after

    before, after = asyncio.run(serve())
    assert before.model_version == "v0" and after.model_version == versions[1][0]

    rolled = subprocess.run(
        [str(LIANJU), "models", "rollback"], env=environment(settings), capture_output=True, text=True
    )
    assert rolled.returncode == 0, rolled.stderr
    assert "v0 is active again" in rolled.stdout
    listed = subprocess.run([str(LIANJU), "models", "list"], env=environment(settings), capture_output=True, text=True)
    assert "active" in listed.stdout and "retired" in listed.stdout


def test_a_candidate_is_not_promoted_over_a_model_its_gates_never_saw(settings, monkeypatch):
    seed_ratings(settings, new_poems(settings.corpus_dir, 24))

    def an_admin_promotes_meanwhile(*args, **kwargs):  # `lianju models promote` while this run trains
        async def promote():
            database = Database(create_engine(settings.database_url))
            async with database.unit_of_work() as session:
                chosen = await repo.register_candidate(session, "v-admin", str(settings.model_dir))
                await repo.promote(session, chosen.id)
            await database.close()

        with ThreadPoolExecutor(max_workers=1) as another_process:  # run_finetune's event loop is busy here
            another_process.submit(asyncio.run, promote()).result()
        return run_gates(*args, **kwargs)

    monkeypatch.setattr(learning, "run_gates", an_admin_promotes_meanwhile)
    result = asyncio.run(run_finetune(settings, min_poems=20, samples=4, progress=False))
    assert result.outcome == "rejected" and result.gates["passed"], result
    assert "v-admin became active during the run" in result.message
    versions, _ = registry(settings)
    assert [(name, status) for name, status, _ in versions] == [
        ("v0", ModelStatus.RETIRED),
        ("v-admin", ModelStatus.ACTIVE),
        (Path(result.candidate).name, ModelStatus.CANDIDATE),
    ]


def test_a_rater_forgotten_during_a_run_does_not_come_back_through_its_feedback(settings, monkeypatch):
    seed_ratings(settings, new_poems(settings.corpus_dir, 24))
    gone = 3  # reader3

    def the_rater_is_forgotten_meanwhile(*args, **kwargs):  # /forgetme in the bot, after the stars were read
        async def forget():
            database = Database(create_engine(settings.database_url))
            async with database.unit_of_work() as session:
                await repo.forget_user(session, gone)
            await database.close()

        with ThreadPoolExecutor(max_workers=1) as the_bot:
            the_bot.submit(asyncio.run, forget()).result()
        learning.forget_rater(settings, gone)
        return select(*args, **kwargs)

    monkeypatch.setattr(learning, "select", the_rater_is_forgotten_meanwhile)
    result = asyncio.run(run_finetune(settings, min_poems=20, samples=4, progress=False))
    assert result.outcome in ("promoted", "rejected"), result
    remembered = [
        json.loads(line) for line in (settings.data_dir / "models" / "feedback.jsonl").read_text().splitlines()
    ]
    assert len(remembered) >= 20 and all(str(gone) not in poem["ratings"] for poem in remembered)


def test_a_poem_kept_for_later_runs_takes_the_stars_it_has_now(tmp_path):
    settings = Settings(data_dir=tmp_path)

    def poem(poem_id: int, stars: int) -> RatedPoem:
        return RatedPoem(poem_id, ["白日依山尽"], "wujue", "山", {rater: stars for rater in (1, 2, 3)})

    def stored(name: str) -> dict[int, dict[int, int]]:
        return {kept.id: kept.ratings for kept in learning._read_store(tmp_path / "models" / name)}

    learning._remember(settings, [poem(1, 5), poem(2, 5), poem(3, 5)], [poem(4, 1)], reread={1, 2, 3, 4})
    # a later run: 1 was rated down, 2 back to the middle, 4 up to 4 stars; 3 nobody touched
    kept = learning._remember(settings, [poem(5, 5)], [poem(1, 1)], reread={1, 2, 4, 5})
    assert [p.id for p in kept] == [3, 5] and stored("feedback.jsonl") == {3: {1: 5, 2: 5, 3: 5}, 5: {1: 5, 2: 5, 3: 5}}
    assert stored("negatives.jsonl") == {1: {1: 1, 2: 1, 3: 1}}


def test_runs_started_in_the_same_second_get_folders_of_their_own(settings):
    first, second = learning._new_candidate_folder(settings), learning._new_candidate_folder(settings)
    assert first != second and first.is_dir() and second.is_dir()


def test_a_candidate_trained_on_garbage_is_not_promoted(settings):
    garbage = [[char * 5] * 4 for char in "一二三四五六七八九十百千万山水风花雪月日年天人心"]
    seed_ratings(settings, garbage)
    result = asyncio.run(run_finetune(settings, min_poems=20, samples=4, lr=5e-2, epochs=6, progress=False))
    assert result.outcome == "rejected", result
    assert not result.gates["passed"]
    versions, runs = registry(settings)
    assert [(name, status) for name, status, _ in versions] == [
        ("v0", ModelStatus.ACTIVE),
        (versions[1][0], ModelStatus.CANDIDATE),
    ]
    assert runs[0][0] == FinetuneOutcome.REJECTED


def test_too_little_new_data_is_skipped(settings):
    seed_ratings(settings, new_poems(settings.corpus_dir, 5))
    result = asyncio.run(run_finetune(settings, min_poems=20, samples=4, progress=False))
    assert result.outcome == "skipped" and result.counts["rated_poems"] == 5
    assert f"only {result.counts['positives']} new poems pass the bar" in result.message
    versions, runs = registry(settings)
    assert [(name, status) for name, status, _ in versions] == [("v0", ModelStatus.ACTIVE)] and runs == []


def test_a_killed_run_leaves_the_registry_and_active_model_as_they_were(settings):
    seed_ratings(settings, new_poems(settings.corpus_dir, 24))
    process = subprocess.Popen(
        [str(LIANJU), "finetune", "--min-poems", "20", "--epochs", "10", "--samples", "400"],
        env=environment(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not registry(settings)[1]:
        time.sleep(0.2)  # wait for the run to be recorded: training or gating has begun
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    versions, runs = registry(settings)
    assert [(name, status) for name, status, _ in versions] == [("v0", ModelStatus.ACTIVE)]
    assert runs == [(FinetuneOutcome.RUNNING, None)]  # recorded as begun, never finished


@pytest.mark.parametrize(
    ("last_words", "reason"),
    [
        # the out-of-memory killer mid-training: how it ended, not its progress bar
        ("printf 'fine-tuning:  45%%|####5 | 18/40 [00:31<00:38,  1.74s/it]' >&2; kill -9 $$", "was killed (signal 9)"),
        # a refusal of its own: that one line
        ("echo 'error: no corpus at /nowhere: run `lianju corpus build` first' >&2; exit 2", "no corpus at /nowhere"),
    ],
)
def test_a_run_that_ends_without_a_result_says_why_in_one_line(tmp_path, monkeypatch, last_words, reason):
    stand_in = tmp_path / "lianju"  # `lianju finetune` as it ends in these cases
    stand_in.write_text(f"#!/bin/bash\n{last_words}\n")
    stand_in.chmod(0o755)
    monkeypatch.setattr(learning, "LIANJU", stand_in)
    result = asyncio.run(learning.finetune_in_process(Settings(data_dir=tmp_path / "data")))
    assert result.outcome == "failed" and reason in result.message
    assert "it/s" not in result.message and "\n" not in result.message
