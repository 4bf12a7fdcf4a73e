"""Learning from ratings in the running bot: it follows the model registry without a restart (a
promotion from outside, a broken model folder), /model rollback, /model finetune and the scheduled
fine-tune, each in a process of its own; and the console's /model rollback."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from pathlib import Path

from fake_discord import EPHEMERAL, OWNER_ID
from test_daily_and_admin import MANAGE_GUILD, wait_for

from bot.console import Console
from bot.discord.cogs.admin import outcome_text
from bot.learning import FinetuneResult
from bot.scheduler import FINETUNE_JOB, FINETUNE_MISFIRE_GRACE_S, MODEL_CHECK_JOB
from bot.services import Person, Services
from storage import repo
from storage.db import Database


async def promote_from_outside(settings, name: str, path: Path) -> None:
    """Register and promote a version in the database, as `lianju finetune` or `lianju models promote` do."""
    database = Database.connect(settings.database_url)
    try:
        async with database.unit_of_work() as session:
            active = await repo.active_model(session)
            version = await repo.register_candidate(session, name, str(path), parent_id=active.id)
            await repo.promote(session, version.id)
    finally:
        await database.close()


async def poem_footer(fake_discord) -> str:
    record = await (await fake_discord.command("poem", {"theme": "月", "form": "wujue"})).answered()
    return record.original["embeds"][0]["footer"]["text"]


async def test_the_bot_follows_the_registry_and_rolls_back(fake_discord, bots, bot_settings, tmp_path):
    settings = bot_settings.model_copy(update={"model_check_seconds": 1, "poem_candidates": 2})
    bot = await bots.start(settings)
    assert bot.scheduler.scheduler.get_job(MODEL_CHECK_JOB).trigger.interval.total_seconds() == 1

    # one model serves every server, so a server's own admin may not roll it back
    refused = await (
        await fake_discord.command("model", {}, subcommand="rollback", permissions=MANAGE_GUILD)
    ).answered()
    assert "只有机器人的主人" in refused.original["content"]
    nothing = await (
        await fake_discord.command("model", {}, subcommand="rollback", user_id=OWNER_ID, locale="en-US")
    ).answered()
    assert "nothing to roll back to" in nothing.original["content"]
    assert "模型 v0" in await poem_footer(fake_discord)

    # A copy of the served model under a new name, promoted while the bot runs: the next check serves it.
    candidate = tmp_path / "v1"
    candidate.symlink_to(settings.model_dir.resolve(), target_is_directory=True)
    await promote_from_outside(settings, "v1", candidate)
    await wait_for(lambda: bot.services.model.name == "v1", timeout=30)
    assert "模型 v1" in await poem_footer(fake_discord)

    # The owner's rollback serves v0 at once, not at the next check.
    rolled = await (await fake_discord.command("model", {}, subcommand="rollback", user_id=OWNER_ID)).answered()
    content = rolled.original["content"]
    assert rolled.original["flags"] & EPHEMERAL and "已回滚" in content and "当前模型：v0" in content
    assert bot.services.model.name == "v0"
    assert "模型 v0" in await poem_footer(fake_discord)

    # A promoted version whose folder is empty: the bot keeps serving v0 and /model info says why.
    broken = tmp_path / "v2"
    broken.mkdir()
    await promote_from_outside(settings, "v2", broken)
    info = await (await fake_discord.command("model", {}, subcommand="info", locale="en-US")).answered()
    content = info.original["content"]
    assert "Active model: v0" in content and "v2" in content and "cannot be loaded" in content, content
    assert "still serving v0" in content
    assert "模型 v0" in await poem_footer(fake_discord)
    assert fake_discord.violations == []


async def test_finetune_runs_in_its_own_process_and_reports(fake_discord, bots, bot_settings, built_corpus, caplog):
    bot_settings.data_dir.mkdir(parents=True)
    bot_settings.corpus_dir.symlink_to(built_corpus, target_is_directory=True)
    bot = await bots.start(bot_settings)
    job = bot.scheduler.scheduler.get_job(FINETUNE_JOB)
    assert "day_of_week='mon', hour='4', minute='0'" in str(job.trigger) and str(job.trigger.timezone) == "UTC"
    assert job.coalesce and job.misfire_grace_time == FINETUNE_MISFIRE_GRACE_S

    refused = await (await fake_discord.command("model", {}, subcommand="finetune")).answered()
    assert "只有机器人的主人" in refused.original["content"]

    started = await (await fake_discord.command("model", {}, subcommand="finetune", user_id=OWNER_ID)).answered()
    assert "微调已在单独的进程中开始" in started.original["content"]
    again = await (
        await fake_discord.command("model", {}, subcommand="finetune", user_id=OWNER_ID, locale="en-US")
    ).answered()
    assert "already running" in again.original["content"] and again.original["flags"] & EPHEMERAL

    # No ratings at all: the run in its own process says it skipped, and why; the reply is edited to say so.
    await wait_for(lambda: "微调跳过了" in started.original["content"], timeout=60)
    assert "only 0 new poems pass the bar" in started.original["content"]
    assert (bot_settings.data_dir / "models" / "finetune-output.log").is_file()

    # The scheduled run starts the same process.
    caplog.set_level(logging.INFO, logger="bot.discord.cogs.admin")
    job.modify(next_run_time=datetime.now(UTC))
    await wait_for(lambda: "scheduled fine-tune skipped" in caplog.text, timeout=60)
    assert bot.services.model.name == "v0"

    bot.scheduler.schedule_finetune("", bot.get_cog("AdminCog").scheduled_finetune)  # LIANJU_FINETUNE_CRON=""
    assert bot.scheduler.scheduler.get_job(FINETUNE_JOB) is None
    assert fake_discord.violations == []


async def test_console_model_info_and_rollback(bot_settings, tmp_path):
    services = await Services.start(bot_settings)
    try:
        out = io.StringIO()
        console = Console(services, Person(1, "console", "en"), out)
        assert "nothing to roll back to" in await console.handle("/model rollback")
        candidate = tmp_path / "v1"
        candidate.symlink_to(services.settings.model_dir.resolve(), target_is_directory=True)
        await promote_from_outside(services.settings, "v1", candidate)
        assert "Active model: v1" in await console.handle("/model")
        rolled = await console.handle("/model rollback")
        assert "Rolled back." in rolled and "Active model: v0" in rolled
        assert await console.handle("/model promote v1") == "/model [info|rollback]"
    finally:
        await services.close()


def test_outcomes_name_the_candidate_and_the_failed_gates():
    def gate(passed: bool) -> dict:
        return {"candidate": 1.0, "active": 1.0, "limit": 1.0, "passed": passed}

    gates = {"passed": False, "heldout_nll": gate(True), "distinct_2": gate(False), "copy_rate": gate(False)}
    rejected = FinetuneResult("rejected", "", {}, gates, "/data/models/v20250106-040000")
    assert outcome_text(rejected, "en-US", "v0") == (
        "Fine-tune done, but v20250106-040000 failed these gates: distinct_2, copy_rate. v0 stays active."
    )
    promoted = FinetuneResult("promoted", "", {}, {"passed": True, "heldout_nll": gate(True)}, "/m/v20250106-040000")
    assert outcome_text(promoted, "zh-TW", "v0") == "微調完成：v20250106-040000 通過了全部關卡，已經上線。"
