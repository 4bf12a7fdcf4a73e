"""The model registry and fine-tune runs: exactly one active model, promotions and rollbacks."""

import asyncio

import pytest

from storage import repo
from storage.errors import Conflict, InvalidInput, NotFound
from storage.models import FinetuneOutcome, ModelStatus

SHIPPED = "engine/weights"


async def in_unit(db, operation, *args, **kwargs):
    async with db.unit_of_work() as session:
        return await operation(session, *args, **kwargs)


async def statuses(db) -> dict[str, ModelStatus]:
    return {version.name: version.status for version in await in_unit(db, repo.list_models)}


async def test_the_shipped_default_is_v0_and_is_created_once(db):
    assert await in_unit(db, repo.active_model) is None
    first, second = await asyncio.gather(
        in_unit(db, repo.ensure_default_model, SHIPPED), in_unit(db, repo.ensure_default_model, SHIPPED)
    )
    assert first.id == second.id and (first.name, first.path, first.status) == ("v0", SHIPPED, ModelStatus.ACTIVE)
    assert first.promoted_at is not None
    assert await statuses(db) == {"v0": ModelStatus.ACTIVE}


async def test_candidates_are_registered_with_parent_and_metrics(db):
    v0 = await in_unit(db, repo.ensure_default_model, SHIPPED)
    v1 = await in_unit(db, repo.register_candidate, "v1", "/models/v1", parent_id=v0.id, metrics={"nll": 2.31})
    assert (v1.status, v1.parent_id, v1.metrics, v1.promoted_at) == (ModelStatus.CANDIDATE, v0.id, {"nll": 2.31}, None)
    with pytest.raises(Conflict, match="named 'v1' exists already"):
        await in_unit(db, repo.register_candidate, "v1", "/models/other")
    with pytest.raises(NotFound, match="model version 999 does not exist"):
        await in_unit(db, repo.register_candidate, "v2", "/models/v2", parent_id=999)
    with pytest.raises(InvalidInput, match="name: is 65 characters long; the limit is 64"):
        await in_unit(db, repo.register_candidate, "v" * 65, "/models/v2")


async def test_promotion_keeps_exactly_one_active(db):
    await in_unit(db, repo.ensure_default_model, SHIPPED)
    v1 = await in_unit(db, repo.register_candidate, "v1", "/models/v1")
    promoted = await in_unit(db, repo.promote, v1.id)
    assert promoted.status == ModelStatus.ACTIVE and promoted.promoted_at is not None
    assert await statuses(db) == {"v0": ModelStatus.RETIRED, "v1": ModelStatus.ACTIVE}
    assert (await in_unit(db, repo.promote, v1.id)).status == ModelStatus.ACTIVE  # promoting twice is harmless


async def test_simultaneous_promotions_leave_one_active(db):
    await in_unit(db, repo.ensure_default_model, SHIPPED)
    candidates = [await in_unit(db, repo.register_candidate, f"v{n}", f"/models/v{n}") for n in (1, 2, 3)]
    await asyncio.gather(*(in_unit(db, repo.promote, candidate.id) for candidate in candidates))
    final = await statuses(db)
    assert list(final.values()).count(ModelStatus.ACTIVE) == 1
    assert list(final.values()).count(ModelStatus.RETIRED) == 3


async def test_rollback_walks_back_through_promotions(db):
    v0 = await in_unit(db, repo.ensure_default_model, SHIPPED)
    v1 = await in_unit(db, repo.register_candidate, "v1", "/models/v1", parent_id=v0.id)
    v2 = await in_unit(db, repo.register_candidate, "v2", "/models/v2", parent_id=v1.id)
    await in_unit(db, repo.register_candidate, "v3", "/models/v3", parent_id=v2.id)  # never promoted
    await in_unit(db, repo.promote, v1.id)
    await in_unit(db, repo.promote, v2.id)

    assert (await in_unit(db, repo.roll_back)).name == "v1"
    assert await statuses(db) == {
        "v0": ModelStatus.RETIRED,
        "v1": ModelStatus.ACTIVE,
        "v2": ModelStatus.RETIRED,
        "v3": ModelStatus.CANDIDATE,  # never active: a rollback must not land on it
    }
    assert (await in_unit(db, repo.roll_back)).name == "v0"
    with pytest.raises(Conflict, match="v0 is the first model ever promoted"):
        await in_unit(db, repo.roll_back)
    assert (await in_unit(db, repo.active_model)).name == "v0"


async def test_a_model_rolled_back_from_is_not_rolled_back_to(db):
    v0 = await in_unit(db, repo.ensure_default_model, SHIPPED)
    v1 = await in_unit(db, repo.register_candidate, "v1", "/models/v1", parent_id=v0.id)
    v2 = await in_unit(db, repo.register_candidate, "v2", "/models/v2", parent_id=v0.id)
    await in_unit(db, repo.promote, v1.id)
    assert (await in_unit(db, repo.roll_back)).name == "v0"  # v1 was found wanting
    await in_unit(db, repo.promote, v2.id)
    assert [version.name for version in await in_unit(db, repo.earlier_models)] == ["v0"]
    assert (await in_unit(db, repo.roll_back)).name == "v0"  # the model active before v2, not v1


async def test_rollback_needs_an_active_model(db):
    with pytest.raises(Conflict, match="nothing to roll back from"):
        await in_unit(db, repo.roll_back)


async def test_a_finetune_run_records_data_gates_and_outcome(db):
    v0 = await in_unit(db, repo.ensure_default_model, SHIPPED)
    run = await in_unit(
        db, repo.start_finetune_run, v0.id, {"rated_poems": 120, "corpus_poems": 1200}, log_path="/logs/ft-1.log"
    )
    assert run.outcome == FinetuneOutcome.RUNNING and run.finished_at is None
    v1 = await in_unit(db, repo.register_candidate, "v1", "/models/v1", parent_id=v0.id)
    # A long failure log with emoji, quotes and newlines: 10,000 characters round-trip unchanged.
    detail = ("gate 'nll' failed 😞\n\"); DROP TABLE finetune_runs; --\n" * 200)[:10_000]
    gates = {
        "nll": {"value": 2.4, "threshold": 2.35, "passed": False},
        "form_validity": {"value": 0.97, "passed": True},
    }
    finished = await in_unit(
        db, repo.finish_finetune_run, run.id, "rejected", gates=gates, candidate_version_id=v1.id, detail=detail
    )
    async with db.unit_of_work() as session:
        stored = await session.get(type(finished), run.id)
    assert stored.outcome == FinetuneOutcome.REJECTED and stored.gates == gates and stored.detail == detail
    assert stored.data_counts == {"rated_poems": 120, "corpus_poems": 1200} and stored.log_path == "/logs/ft-1.log"
    assert stored.candidate_version_id == v1.id and stored.finished_at >= stored.started_at

    with pytest.raises(Conflict, match="has already finished \\(rejected\\)"):
        await in_unit(db, repo.finish_finetune_run, run.id, "failed")
    with pytest.raises(InvalidInput, match="detail: is 10,001 characters long; the limit is 10,000"):
        await in_unit(db, repo.finish_finetune_run, run.id, "failed", detail=detail + "!")
    with pytest.raises(InvalidInput, match="outcome: a finished run is promoted, rejected or failed"):
        await in_unit(db, repo.finish_finetune_run, run.id, "running")


async def test_a_failed_finetune_run_does_not_move_the_since_the_last_run_marker(db):
    async with db.unit_of_work() as session:
        v0 = await repo.ensure_default_model(session, "/models/v0")
        rejected = await repo.start_finetune_run(session, v0.id, {"positives": 20})
        await repo.finish_finetune_run(session, rejected.id, FinetuneOutcome.REJECTED)
    async with db.unit_of_work() as session:
        failed = await repo.start_finetune_run(session, v0.id, {"positives": 20})
        await repo.finish_finetune_run(session, failed.id, FinetuneOutcome.FAILED, detail="out of memory")
        await repo.start_finetune_run(session, v0.id, {"positives": 20})  # still running
    async with db.unit_of_work() as session:
        assert (await repo.last_finetune_run(session)).id == rejected.id
