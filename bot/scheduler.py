"""The daily poem's clock: APScheduler 3's AsyncIOScheduler with its jobs in a database.

One cron job per guild (`daily:<guild id>`) at the guild's local time. Jobs live in a
SQLAlchemyJobStore, so they survive restarts; `coalesce` turns several missed runs into one and
`misfire_grace_time` says how late a run may still happen. The job calls `fire_daily_post`, a
module-level function (the job store keeps a reference by name, not a closure), which hands the
guild id to the poster the running bot registered. Posting once per guild and local day is
enforced by the database (`repo.claim_daily_post`), not here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.engine import make_url

from storage.models import Guild

log = logging.getLogger(__name__)

DailyPoster = Callable[[int], Awaitable[None]]
_poster: DailyPoster | None = None


async def fire_daily_post(guild_id: int) -> None:
    if _poster is None:
        log.warning("daily post for guild %s fired with no bot running; skipped", guild_id)
        return
    await _poster(guild_id)


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
    def __init__(self, url: str, misfire_grace_s: int, poster: DailyPoster) -> None:
        self.poster = poster
        self.scheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=url)},
            job_defaults={"coalesce": True, "misfire_grace_time": misfire_grace_s, "max_instances": 1},
        )

    def start(self, guilds: list[Guild]) -> None:
        """Start the clock and make its jobs match the guilds that have a daily poem."""
        global _poster
        _poster = self.poster
        self.scheduler.start()
        wanted = {job_id(guild.id): guild for guild in guilds}
        for job in self.scheduler.get_jobs():
            if job.id.startswith("daily:") and job.id not in wanted:
                job.remove()
        for guild in guilds:
            if self.scheduler.get_job(job_id(guild.id)) is None:
                self.schedule(guild)

    def schedule(self, guild: Guild) -> None:
        trigger = CronTrigger(hour=guild.daily_time.hour, minute=guild.daily_time.minute, timezone=guild.timezone)
        self.scheduler.add_job(
            fire_daily_post, trigger, args=[guild.id], id=job_id(guild.id), replace_existing=True,
            name=f"daily poem of guild {guild.id}",
        )

    def unschedule(self, guild_id: int) -> None:
        if self.scheduler.get_job(job_id(guild_id)) is not None:
            self.scheduler.remove_job(job_id(guild_id))

    def shutdown(self) -> None:
        global _poster
        if self.scheduler.state != STATE_STOPPED:
            self.scheduler.shutdown(wait=False)
        if _poster is self.poster:
            _poster = None
