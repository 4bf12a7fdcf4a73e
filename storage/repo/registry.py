"""The model registry: which model version is active, its candidates, and the fine-tune runs that made them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import limits
from storage.errors import Conflict, InvalidInput
from storage.models import FinetuneOutcome, FinetuneRun, ModelStatus, ModelVersion, utcnow
from storage.repo.common import dialect_insert, get_or_raise, parse_enum

DEFAULT_MODEL_NAME = "v0"
REGISTRY_LOCK = 0x4C69616E6A75  # any constant; names the registry's PostgreSQL advisory lock


async def active_model(session: AsyncSession) -> ModelVersion | None:
    return (await session.scalars(select(ModelVersion).where(ModelVersion.status == ModelStatus.ACTIVE))).one_or_none()


async def _lock_registry(session: AsyncSession) -> None:
    # Registry changes read the active version and then replace it; two at once on PostgreSQL would
    # both read the same one. SQLite's BEGIN IMMEDIATE already serialises every writer.
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(REGISTRY_LOCK)))


async def ensure_default_model(session: AsyncSession, path: str) -> ModelVersion:
    """The active model; on an empty registry, the shipped default `v0` at `path` becomes it."""
    path = limits.text("path", path, limits.PATH_MAX)
    await _lock_registry(session)
    if await session.scalar(select(func.count(ModelVersion.id))) == 0:
        now = utcnow()
        await session.execute(
            dialect_insert(session, ModelVersion)
            .values(
                name=DEFAULT_MODEL_NAME,
                path=path,
                status=ModelStatus.ACTIVE,
                metrics={},
                created_at=now,
                promoted_at=now,
            )
            .on_conflict_do_nothing()
        )
    active = await active_model(session)
    if active is None:
        raise Conflict("the model registry has versions but none is active: promote one")
    return active


async def register_candidate(
    session: AsyncSession, name: str, path: str, *, parent_id: int | None = None, metrics: dict[str, Any] | None = None
) -> ModelVersion:
    name = limits.text("name", name, limits.MODEL_NAME_MAX)
    await _lock_registry(session)
    if await session.scalar(select(ModelVersion.id).where(ModelVersion.name == name)) is not None:
        raise Conflict(f"a model version named {name!r} exists already")
    if parent_id is not None:
        await get_or_raise(session, ModelVersion, parent_id, "model version")
    version = ModelVersion(
        name=name,
        path=limits.text("path", path, limits.PATH_MAX),
        parent_id=parent_id,
        metrics=limits.json_object("metrics", metrics or {}),
        status=ModelStatus.CANDIDATE,
    )
    session.add(version)
    await session.flush()
    return version


async def _locked_version(session: AsyncSession, version_id: int) -> ModelVersion:
    await _lock_registry(session)
    return await get_or_raise(session, ModelVersion, version_id, "model version")


async def _replace_active(session: AsyncSession, successor: ModelVersion) -> None:
    """Retire the active version, if any, and make `successor` active in its place."""
    current = await active_model(session)
    if current is not None:
        current.status = ModelStatus.RETIRED
        current.retired_at = utcnow()
        # Flushed first: the one-active index would refuse the new active row before it.
        await session.flush()
    successor.status = ModelStatus.ACTIVE
    successor.retired_at = None
    await session.flush()


async def promote(session: AsyncSession, version_id: int) -> ModelVersion:
    """Make the version the active one; the previously active version is retired."""
    version = await _locked_version(session, version_id)
    if version.status != ModelStatus.ACTIVE:
        version.promoted_at = utcnow()
        await _replace_active(session, version)
    return version


async def roll_back(session: AsyncSession) -> ModelVersion:
    """Retire the active model and restore the one that was active before it."""
    await _lock_registry(session)
    current = await active_model(session)
    if current is None or current.promoted_at is None:
        raise Conflict("no model is active, so there is nothing to roll back from")
    previous = await session.scalar(
        select(ModelVersion)
        .where(ModelVersion.status == ModelStatus.RETIRED, ModelVersion.promoted_at < current.promoted_at)
        .order_by(ModelVersion.promoted_at.desc())
        .limit(1)
    )
    if previous is None:
        raise Conflict(f"{current.name} is the first model ever promoted: there is nothing to roll back to")
    # The version rolled back from is no longer one to return to (by a later roll back, or as a
    # fallback when the active folder does not load); the one restored is active again from now.
    current.promoted_at, previous.promoted_at = None, utcnow()
    await _replace_active(session, previous)
    return previous


async def earlier_models(session: AsyncSession) -> list[ModelVersion]:
    """The versions that were active before the current one, the most recent first (what a roll back
    would bring back, then what came before it)."""
    return list(
        await session.scalars(
            select(ModelVersion)
            .where(ModelVersion.status == ModelStatus.RETIRED, ModelVersion.promoted_at.is_not(None))
            .order_by(ModelVersion.promoted_at.desc())
        )
    )


async def list_models(session: AsyncSession) -> list[ModelVersion]:
    return list(await session.scalars(select(ModelVersion).order_by(ModelVersion.id)))


async def start_finetune_run(
    session: AsyncSession, base_version_id: int, data_counts: dict[str, int], *, log_path: str | None = None
) -> FinetuneRun:
    await get_or_raise(session, ModelVersion, base_version_id, "model version")
    run = FinetuneRun(
        base_version_id=base_version_id,
        data_counts=limits.json_object("data_counts", data_counts),
        log_path=limits.optional_text("log_path", log_path, limits.PATH_MAX),
    )
    session.add(run)
    await session.flush()
    return run


async def finish_finetune_run(
    session: AsyncSession,
    run_id: int,
    outcome: FinetuneOutcome | str,
    *,
    gates: dict[str, Any] | None = None,
    candidate_version_id: int | None = None,
    detail: str | None = None,
) -> FinetuneRun:
    outcome = parse_enum("outcome", FinetuneOutcome, outcome)
    if outcome == FinetuneOutcome.RUNNING:
        raise InvalidInput("outcome", "a finished run is promoted, rejected or failed")
    gates = None if gates is None else limits.json_object("gates", gates)
    detail = None if detail is None else limits.text("detail", detail, limits.DETAIL_MAX, multiline=True)
    run = await get_or_raise(session, FinetuneRun, run_id, "fine-tune run")
    if run.outcome != FinetuneOutcome.RUNNING:
        raise Conflict(f"fine-tune run {run_id} has already finished ({run.outcome.value})")
    if candidate_version_id is not None:
        await get_or_raise(session, ModelVersion, candidate_version_id, "model version")
    run.outcome = outcome
    run.gates = gates
    run.candidate_version_id = candidate_version_id
    run.detail = detail
    run.finished_at = utcnow()
    await session.flush()
    return run


async def last_finetune_run(session: AsyncSession) -> FinetuneRun | None:
    """The most recent fine-tune run that trained to the end (promoted or rejected): the feedback since
    then is new. A failed run used none of it, so the next run learns from it."""
    return await session.scalar(
        select(FinetuneRun)
        .where(FinetuneRun.outcome.in_([FinetuneOutcome.PROMOTED, FinetuneOutcome.REJECTED]))
        .order_by(FinetuneRun.started_at.desc(), FinetuneRun.id.desc())
        .limit(1)
    )
