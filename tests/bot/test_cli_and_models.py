"""The command line never shows a traceback: bad numbers, a fresh data folder, no network, a run
outside the repository; and a broken model folder can neither be promoted nor stop the bot."""

from __future__ import annotations

import asyncio
import io
import shutil
from pathlib import Path

import pytest
from discord.http import Route
from test_console_and_run import lianju
from typer.testing import CliRunner

from bot import cli
from bot.config import SHIPPED_MODEL, Settings, get_settings
from bot.console import run_console
from bot.services import Services
from storage import repo
from storage.db import Database, create_engine, ensure_schema
from storage.models import ModelStatus


def test_a_huge_seed_is_refused_with_a_message(tmp_path):
    result = lianju(["poem", "月", "--seed", "99999999999999999999999"], tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--seed" in result.stderr


def test_models_list_on_a_fresh_data_folder_lists_the_shipped_model(tmp_path):
    result = lianju(["models", "list"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "v0" in result.stdout and "active" in result.stdout


def test_eval_outside_the_repository_uses_the_configured_model(tmp_path, built_corpus):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    result = lianju(["eval", "--corpus", str(built_corpus), "--samples", "1"], tmp_path, cwd=outside)
    assert "no model at" not in result.stderr and result.returncode == 0, result.stderr
    assert "held-out NLL" in result.stdout


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("LIANJU_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_run_without_a_network_says_so(settings, monkeypatch):
    monkeypatch.setenv("LIANJU_DISCORD_TOKEN", "a.token.nobody.checks")
    get_settings.cache_clear()
    monkeypatch.setattr(Route, "BASE", "http://127.0.0.1:9/api/v10")  # nothing listens on the discard port
    result = CliRunner().invoke(cli.app, ["run"])
    assert result.exit_code == 2 and "cannot reach Discord" in result.output, result.output


def broken_copy(folder: Path) -> Path:
    shutil.copytree(SHIPPED_MODEL, folder)
    (folder / "config.json").write_text("{ not json", "utf-8")
    return folder


def register(settings: Settings, name: str, path: Path, *, promote: bool, metrics: dict | None = None) -> None:
    async def work():
        database = Database(create_engine(settings.database_url))
        await ensure_schema(database.engine, upgrade=True)
        async with database.unit_of_work() as session:
            await repo.ensure_default_model(session, str(settings.model_dir))
            version = await repo.register_candidate(session, name, str(path), metrics=metrics)
            if promote:
                await repo.promote(session, version.id)
        await database.close()

    asyncio.run(work())


def statuses(settings: Settings) -> dict[str, ModelStatus]:
    async def read():
        database = Database(create_engine(settings.database_url))
        async with database.unit_of_work() as session:
            found = {version.name: version.status for version in await repo.list_models(session)}
        await database.close()
        return found

    return asyncio.run(read())


def test_a_broken_folder_cannot_be_promoted(settings, tmp_path):
    register(settings, "v1", broken_copy(tmp_path / "v1"), promote=False)
    result = CliRunner().invoke(cli.app, ["models", "promote", "v1"])
    assert result.exit_code == 2 and "does not load" in result.output
    assert statuses(settings) == {"v0": ModelStatus.ACTIVE, "v1": ModelStatus.CANDIDATE}


def test_a_candidate_that_failed_its_gates_is_promoted_only_by_force(settings):
    worse = {"held_out_nll": {"active": 4.09, "candidate": 4.31, "limit": 4.17, "passed": False}, "passed": False}
    register(settings, "v1", settings.model_dir, promote=False, metrics=worse)
    refused = CliRunner().invoke(cli.app, ["models", "promote", "v1"])
    said = " ".join(refused.output.split())  # rich wraps it to the terminal
    assert refused.exit_code == 2 and "held_out_nll 4.3100 against 4.0900, limit 4.1700" in said
    assert statuses(settings) == {"v0": ModelStatus.ACTIVE, "v1": ModelStatus.CANDIDATE}
    forced = CliRunner().invoke(cli.app, ["models", "promote", "v1", "--force"])
    assert forced.exit_code == 0 and statuses(settings) == {"v0": ModelStatus.RETIRED, "v1": ModelStatus.ACTIVE}


def test_a_folder_with_a_damaged_reader_cannot_be_promoted(settings, tmp_path):
    damaged = tmp_path / "v1"
    shutil.copytree(SHIPPED_MODEL, damaged)
    (damaged / "reader.json").write_text('{"weights": [0.1,', "utf-8")  # cut short
    register(settings, "v1", damaged, promote=False)
    result = CliRunner().invoke(cli.app, ["models", "promote", "v1"])
    assert result.exit_code == 2 and "does not load" in result.output


def test_the_first_start_loads_the_default_model_once(settings, monkeypatch):
    import engine.poet

    loaded: list[Path] = []
    real_load_backend = engine.poet.load_backend

    def counting_load_backend(model_dir, kind):
        loaded.append(Path(model_dir))
        return real_load_backend(model_dir, kind)

    monkeypatch.setattr(engine.poet, "load_backend", counting_load_backend)

    async def start() -> None:
        services = await Services.start(settings)
        await services.close()

    asyncio.run(start())
    assert loaded == [settings.model_dir] and statuses(settings) == {"v0": ModelStatus.ACTIVE}


def test_a_first_start_that_cannot_record_v0_closes_the_model_it_loaded(settings, monkeypatch):
    from sqlalchemy.orm import SessionTransaction

    import bot.services

    loaded: list = []
    real_load = bot.services._load_default_model

    async def recording_load(*args):
        loaded.append(await real_load(*args))
        return loaded[-1]

    def refused_commit(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(bot.services, "_load_default_model", recording_load)
    monkeypatch.setattr(SessionTransaction, "commit", refused_commit)
    with pytest.raises(OSError, match="disk full"):
        asyncio.run(Services.start(settings))
    [poet] = loaded
    with pytest.raises(RuntimeError, match="shutdown"):  # its torch thread was shut down
        poet.torch_thread.submit(print)


def test_a_model_folder_that_does_not_load_is_not_recorded_as_v0(settings, tmp_path):
    from bot.services import ModelUnavailable

    broken = broken_copy(tmp_path / "broken")
    with pytest.raises(ModelUnavailable, match="nothing was recorded"):
        asyncio.run(Services.start(settings.model_copy(update={"model_dir": broken})))
    assert statuses(settings) == {}  # so the next start, with the setting fixed, records the folder that loads

    async def start() -> str:
        services = await Services.start(settings)
        try:
            return str(services.model.path)
        finally:
            await services.close()

    assert asyncio.run(start()) == str(settings.model_dir)


def test_a_broken_active_model_serves_the_last_good_one_and_says_to_roll_back(settings, tmp_path, capsys):
    register(settings, "v1", broken_copy(tmp_path / "v1"), promote=True)  # as if promoted by hand

    async def start() -> tuple[str, str | None]:
        services = await Services.start(settings)
        try:
            return services.model.name, services.unloadable and services.unloadable[0].name
        finally:
            await services.close()

    assert asyncio.run(start()) == ("v0", "v1")
    asyncio.run(run_console(settings, "zh-CN", "李白", io.StringIO("/model\n")))
    out = capsys.readouterr().out
    assert "lianju models rollback" in out and "仍在用 v0" in out and "当前模型：v0" in out
    assert CliRunner().invoke(cli.app, ["models", "rollback"]).exit_code == 0
    assert statuses(settings)["v0"] == ModelStatus.ACTIVE
