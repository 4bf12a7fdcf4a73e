"""The bot's clock: APScheduler 3's AsyncIOScheduler with its jobs in a database.

One cron job per guild (`daily:<guild id>`) at the guild's local time, and the fine-tune run
(`finetune`, LIANJU_FINETUNE_CRON in UTC). Those jobs live in a SQLAlchemyJobStore, so they
survive restarts; `coalesce` turns several missed runs into one and `misfire_grace_time` says how
late a run may still happen. A stored job calls a module-level function (the job store keeps a
reference by name, not a closure), which hands over to what the running bot registered. Posting
once per guild and local day is enforced by the database (`repo.claim_daily_post`), not here.

The model check (`model-check`, every LIANJU_MODEL_CHECK_SECONDS) is kept in memory: it is
started afresh with the bot and has nothing to catch up on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from storage.models import Guild

log = logging.getLogger(__name__)


class DailyPoster(Protocol):
    def __call__(self, guild_id: int, day: date | None = None) -> Awaitable[None]: ...


Action = Callable[[], Awaitable[object]]
DAILY_JOB, FINETUNE_JOB, MODEL_CHECK_JOB = "daily", "finetune", "model-check"
# A fine-tune is not tied to its hour: one missed while the bot was down still runs within a day.
FINETUNE_MISFIRE_GRACE_S = 24 * 3600

_handlers: dict[str, Callable[..., Awaitable[object]]] = {}  # what the running bot does when a stored job fires


async def _hand_to_bot(kind: str, *args: object) -> None:
    handler = _handlers.get(kind)
    if handler is None:
        log.warning("%s job %s fired with no bot running; skipped", kind, args)
        return
    await handler(*args)


async def fire_daily_post(guild_id: int) -> None:
    await _hand_to_bot(DAILY_JOB, guild_id)


async def fire_finetune() -> None:
    await _hand_to_bot(FINETUNE_JOB)


def jobstore_url(database_url: str, data_dir: Path) -> str:
    """Where the jobs are kept: next to SQLite in the data folder, or in the same PostgreSQL database.

    The job store is synchronous SQLAlchemy, so PostgreSQL goes through psycopg; SQLite gets a
    file of its own so that the app's migrations never see the scheduler's table.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{data_dir / 'scheduler.sqlite'}"
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def job_id(guild_id: int) -> str:
    return f"daily:{guild_id}"


class DailyScheduler:
    """Made by the bot before its cogs load; each cog registers what its jobs do (`post_daily_with`,
    `schedule_finetune`, `check_model_every`), and the bot lets jobs fire (`resume`) once all have."""

    def __init__(self, url: str, misfire_grace_s: int) -> None:
        self.handlers: dict[str, Callable[..., Awaitable[object]]] = {}
        self.scheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=url), "memory": MemoryJobStore()},
            job_defaults={"coalesce": True, "misfire_grace_time": misfire_grace_s, "max_instances": 1},
        )

    def start(self, guilds: list[Guild]) -> None:
        """Start the clock, paused until `resume`, and make its jobs match the guilds that have a daily poem."""
        self.scheduler.start(paused=True)
        wanted = {job_id(guild.id): guild for guild in guilds}
        for job in self.scheduler.get_jobs():
            if job.id.startswith("daily:") and job.id not in wanted:
                job.remove()
        for guild in guilds:
            if self.scheduler.get_job(job_id(guild.id)) is None:
                self.schedule(guild)

    def post_daily_with(self, poster: DailyPoster) -> None:
        self.handlers[DAILY_JOB] = _handlers[DAILY_JOB] = poster

    def resume(self) -> None:
        """Let jobs fire, missed ones first; called once every handler is registered, so none fires into nothing."""
        self.scheduler.resume()

    def schedule(self, guild: Guild) -> None:
        trigger = CronTrigger(hour=guild.daily_time.hour, minute=guild.daily_time.minute, timezone=guild.timezone)
        self.scheduler.add_job(
            fire_daily_post,
            trigger,
            args=[guild.id],
            id=job_id(guild.id),
            replace_existing=True,
            name=f"daily poem of guild {guild.id}",
        )

    def post_daily_later(self, guild_id: int, day: date, at: datetime) -> None:
        """Try the guild's poem of `day` once more at `at`: a claim a killed process left, a poem that
        could not be written. Kept in memory: the claims in the database are the record."""
        self.scheduler.add_job(
            self.handlers[DAILY_JOB],
            DateTrigger(run_date=at),
            args=[guild_id, day],
            id=f"daily-again:{guild_id}",
            jobstore="memory",
            replace_existing=True,
            misfire_grace_time=None,  # however late the bot gets to it: the poster knows the day's deadline
            name=f"daily poem of guild {guild_id} for {day}, again",
        )

    def unschedule(self, guild_id: int) -> None:
        if self.scheduler.get_job(job_id(guild_id)) is not None:
            self.scheduler.remove_job(job_id(guild_id))

    def schedule_finetune(self, crontab: str, run: Action) -> None:
        """Start `run` at every time of the crontab (UTC); an empty one removes the job."""
        self.handlers[FINETUNE_JOB] = _handlers[FINETUNE_JOB] = run
        job = self.scheduler.get_job(FINETUNE_JOB)
        if not crontab:
            if job is not None:
                job.remove()
            return
        trigger = CronTrigger.from_crontab(crontab, timezone=UTC)
        if job is None or repr(job.trigger) != repr(trigger):  # an unchanged job keeps its missed run to catch up
            self.scheduler.add_job(
                fire_finetune,
                trigger,
                id=FINETUNE_JOB,
                replace_existing=True,
                misfire_grace_time=FINETUNE_MISFIRE_GRACE_S,
                name="fine-tune from ratings",
            )

    def check_model_every(self, seconds: int, check: Action) -> None:
        self.scheduler.add_job(
            check,
            IntervalTrigger(seconds=seconds),
            id=MODEL_CHECK_JOB,
            jobstore="memory",
            replace_existing=True,
            name="serve the registry's active model",
        )

    def shutdown(self) -> None:
        """Stop the clock; the handlers this scheduler registered are forgotten."""
        if self.scheduler.state != STATE_STOPPED:
            self.scheduler.shutdown(wait=False)
        for kind, handler in self.handlers.items():
            if _handlers.get(kind) is handler:
                del _handlers[kind]
