"""Learning from ratings, end to end: feedback from the database, a fine-tuned candidate, the
gates, the registry. `lianju finetune` runs this in a process of its own, so a crash or a kill
never touches the running bot; the candidate is registered only after it has passed or failed
its gates, so a run killed midway leaves the registry and the active model as they were.

Every candidate is a from_pretrained folder under $LIANJU_DATA_DIR/models/; feedback poems
accumulate in $LIANJU_DATA_DIR/models/feedback.jsonl, so later runs keep learning from earlier
feedback (always mixed with at least three times as many original corpus poems); poems rated 2 stars
or less accumulate in negatives.jsonl beside it, for a later preference method.

The bot starts the same command with `finetune_in_process`: the run's result is written to
$LIANJU_DATA_DIR/models/last-finetune.json, its output to finetune-output.log beside it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock

from bot.config import Settings
from engine.finetune import RatedPoem, finetune, run_gates, select
from engine.novelty import CorpusLines
from storage import repo
from storage.db import Database, create_engine, ensure_schema
from storage.models import FinetuneOutcome, ModelVersion


@dataclass
class FinetuneResult:
    outcome: str  # skipped, promoted, rejected or failed
    message: str
    counts: dict
    gates: dict | None = None
    candidate: str | None = None

    @property
    def failed_gates(self) -> list[str]:
        return [name for name, gate in (self.gates or {}).items() if name != "passed" and not gate["passed"]]


def _rated(poem, stars: dict[int, int]) -> RatedPoem:
    return RatedPoem(poem.id, poem.lines, poem.form, poem.theme or "", stars)


def _models_dir(settings: Settings) -> Path:
    return settings.data_dir / "models"


def _result_file(settings: Settings) -> Path:
    return _models_dir(settings) / "last-finetune.json"


def _reported(settings: Settings, result: FinetuneResult) -> FinetuneResult:
    """Leave the result where the process that started this run can read it."""
    store = _result_file(settings)
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text(json.dumps(asdict(result), ensure_ascii=False), "utf-8")
    return result


def _from_json(line: str) -> RatedPoem:
    data = json.loads(line)
    return RatedPoem(**{**data, "ratings": {int(user): stars for user, stars in data["ratings"].items()}})


FEEDBACK_STORES = ("feedback.jsonl", "negatives.jsonl")  # the rated poems kept for later runs, with who rated them


def _feedback_lock(settings: Settings) -> FileLock:
    """Held while a feedback store is added to or rewritten: the bot forgets a rater in its process
    while `lianju finetune` remembers poems in another, and either could lose the other's write."""
    folder = _models_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    return FileLock(folder / "feedback.lock")


def _read_store(store: Path) -> list[RatedPoem]:
    return (
        [_from_json(line) for line in store.read_text("utf-8").splitlines() if line.strip()] if store.exists() else []
    )


def _write_store(store: Path, poems: list[RatedPoem]) -> None:
    store.parent.mkdir(parents=True, exist_ok=True)
    rewritten = store.with_suffix(".tmp")
    rewritten.write_text("".join(json.dumps(asdict(poem), ensure_ascii=False) + "\n" for poem in poems), "utf-8")
    rewritten.replace(store)  # whole or not at all, whatever happens while writing


def _remember(
    settings: Settings, positives: list[RatedPoem], negatives: list[RatedPoem], reread: set[int]
) -> list[RatedPoem]:
    """Keep this run's positives and negatives for later runs. A poem kept before and rated again
    since (`reread`: every poem this run read) is what this run made of it: its stars as they are
    now, in the store they put it in, or in neither. Returns every positive kept."""
    kept = []
    for name, poems in zip(FEEDBACK_STORES, (positives, negatives)):
        store = _models_dir(settings) / name
        kept.append([poem for poem in _read_store(store) if poem.id not in reread] + poems)
        _write_store(store, kept[-1])
    return kept[0]


def _rated_by(poems: list[RatedPoem], raters: set[int]) -> list[RatedPoem]:
    """The poems with only these raters' stars; a poem none of them rated goes."""
    kept = [
        replace(poem, ratings={who: stars for who, stars in poem.ratings.items() if who in raters}) for poem in poems
    ]
    return [poem for poem in kept if poem.ratings]


def forget_rater(settings: Settings, user_id: int) -> int:
    """Take one person's stars out of every feedback store; the poems stay with the others' ratings
    (a poem only they rated goes). Returns how many ratings were removed."""
    with _feedback_lock(settings):
        return _forget_rater(settings, user_id)


def _forget_rater(settings: Settings, user_id: int) -> int:
    removed = 0
    for name in FEEDBACK_STORES:
        store = _models_dir(settings) / name
        if not store.exists():
            continue
        kept = []
        for poem in _read_store(store):
            if poem.ratings.pop(user_id, None) is not None:
                removed += 1
            if poem.ratings:
                kept.append(poem)
        _write_store(store, kept)
    return removed


async def run_finetune(
    settings: Settings,
    *,
    min_votes: int = 3,
    min_mean: float = 4.0,
    min_poems: int = 20,
    samples: int = 50,
    epochs: int = 2,
    lr: float = 1e-4,
    progress: bool = True,
) -> FinetuneResult:
    corpus = settings.corpus_dir
    if not (corpus / "poems.jsonl").is_file():
        raise FileNotFoundError(f"no corpus at {corpus}: run `lianju corpus build` first")
    database = Database(create_engine(settings.database_url))
    try:
        await ensure_schema(database.engine, upgrade=True)
        async with database.unit_of_work() as session:
            active = await repo.ensure_default_model(session, str(settings.model_dir))
            last = await repo.last_finetune_run(session)
            since = last.started_at if last else None
            rated = [
                _rated(p, s) for p, s in await repo.rated_poems_with_ratings(session, min_votes=min_votes, since=since)
            ]
        corpus_lines = CorpusLines.load(settings.corpus_lines) if settings.corpus_lines.is_file() else None
        selection = select(rated, corpus_lines, min_votes=min_votes, min_mean=min_mean)
        counts = {**selection.counts(), "rated_poems": len(rated)}
        if len(selection.positives) < min_poems:
            return _reported(
                settings,
                FinetuneResult(
                    "skipped",
                    f"only {len(selection.positives)} new poems pass the bar "
                    f"(>= {min_votes} votes, Bayesian mean >= {min_mean}); a run needs {min_poems}",
                    counts,
                ),
            )
        return _reported(
            settings,
            await _train_and_gate(
                settings,
                database,
                active,
                selection,
                {poem.id for poem in rated},
                corpus_lines,
                counts,
                samples,
                epochs,
                lr,
                progress,
            ),
        )
    finally:
        await database.close()


async def _train_and_gate(
    settings,
    database: Database,
    active: ModelVersion,
    selection,
    reread: set[int],
    corpus_lines: CorpusLines | None,
    counts,
    samples,
    epochs,
    lr,
    progress,
) -> FinetuneResult:
    candidate = _new_candidate_folder(settings)
    name = candidate.name
    log = candidate.with_suffix(".log")
    async with database.unit_of_work() as session:
        run = await repo.start_finetune_run(session, active.id, counts, log_path=str(log))
    try:
        with _feedback_lock(settings):
            # A rater forgotten since their stars were read above must not come back through the stores:
            # /forgetme deletes the person first, then takes this lock to clean the stores.
            async with database.unit_of_work() as session:
                known = await repo.existing_users(
                    session, (rater for poem in selection.positives + selection.negatives for rater in poem.ratings)
                )
            feedback = _remember(  # the negatives are kept for a later method
                settings, _rated_by(selection.positives, known), _rated_by(selection.negatives, known), reread
            )
        counts |= finetune(
            Path(active.path),
            candidate,
            feedback,
            settings.corpus_dir,
            epochs=epochs,
            lr=lr,
            method=settings.finetune_method,
            progress=progress,
        )
        report = run_gates(
            Path(active.path),
            candidate,
            settings.corpus_dir,
            selection.positives,
            samples=samples,
            corpus_lines=corpus_lines,
        )
        gates = report.to_dict()
        log.write_text(json.dumps({"counts": counts, "gates": gates}, ensure_ascii=False, indent=1))
        async with database.unit_of_work() as session:
            version = await repo.register_candidate(session, name, str(candidate), parent_id=active.id, metrics=gates)
            # The gates compared the candidate with `active`; if another run or an admin replaced it
            # meanwhile, they said nothing about the model it would replace now.
            now_active = await repo.active_model(session)
            overtaken = now_active is not None and now_active.id != active.id
            promoted = report.passed and not overtaken
            if promoted:
                await repo.promote(session, version.id)
            outcome = FinetuneOutcome.PROMOTED if promoted else FinetuneOutcome.REJECTED
            await repo.finish_finetune_run(session, run.id, outcome, gates=gates, candidate_version_id=version.id)
    except Exception as error:
        shutil.rmtree(candidate, ignore_errors=True)
        async with database.unit_of_work() as session:
            await repo.finish_finetune_run(
                session, run.id, FinetuneOutcome.FAILED, detail=f"{type(error).__name__}: {error}"
            )
        return FinetuneResult("failed", f"the fine-tune failed ({error}); the active model is unchanged", counts)
    result = FinetuneResult(outcome.value, "", counts, gates, str(candidate))
    if promoted:
        result.message = f"{name} passed every gate and is now active"
    elif report.passed and now_active is not None:
        result.message = (
            f"{name} passed its gates against {active.name}, but {now_active.name} became active during the run: "
            f"{name} stays a candidate (`lianju models promote {name}` if it should replace {now_active.name})"
        )
    else:
        result.message = f"{name} failed the gates ({', '.join(result.failed_gates)}); {active.name} stays active"
    return result


def _new_candidate_folder(settings: Settings) -> Path:
    """This run's own folder for its candidate, named by the time: made here, by an atomic mkdir, so
    that two runs started in the same second never write into (or clean up) the same one."""
    stamp = "v" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    models = _models_dir(settings)
    models.mkdir(parents=True, exist_ok=True)
    folder, attempt = models / stamp, 1
    while True:
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            attempt += 1
            folder = models / f"{stamp}-{attempt}"


LIANJU = Path(sys.executable).with_name("lianju")  # the console script of the environment the bot runs in
OUTPUT_TAIL_CHARS = 500


def _environment(settings: Settings) -> dict[str, str]:
    """The bot's settings as LIANJU_* variables: they may have come from code or .env, not the environment."""
    values = settings.model_dump(mode="json", exclude={"discord_token"}, exclude_none=True)
    return {
        **os.environ,
        **{
            f"LIANJU_{name.upper()}": value if isinstance(value, str) else json.dumps(value)
            for name, value in values.items()
        },
    }


async def finetune_in_process(settings: Settings) -> FinetuneResult:
    """Run `lianju finetune` in a process of its own with the bot's settings; its result, or why there is none.

    Cancelling this terminates the process, which leaves the registry as it was.
    """
    store = _result_file(settings)
    output = store.with_name("finetune-output.log")
    output.parent.mkdir(parents=True, exist_ok=True)
    store.unlink(missing_ok=True)  # an earlier run's result must not pass for this one's
    with open(output, "wb") as log:
        try:
            process = await asyncio.create_subprocess_exec(
                str(LIANJU),
                "finetune",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=_environment(settings),
            )
        except OSError as error:
            return FinetuneResult("failed", f"cannot start {LIANJU}: {error}", {})
        try:
            await process.wait()
        except asyncio.CancelledError:
            process.terminate()
            await process.wait()
            raise
    if store.is_file():
        return FinetuneResult(**json.loads(store.read_text("utf-8")))
    # It ended before it had a result: its own one-line error when it refused (no corpus), else how it
    # ended (a kill, a crash) and where its output is; never the raw tail, progress bars and all.
    said = [line for line in output.read_text("utf-8", errors="replace").splitlines() if line.startswith("error: ")]
    if said:
        return FinetuneResult("failed", said[-1].removeprefix("error: ")[:OUTPUT_TAIL_CHARS], {})
    code = process.returncode
    ended = f"was killed (signal {-code})" if code is not None and code < 0 else f"exited with status {code}"
    return FinetuneResult("failed", f"`lianju finetune` {ended} before it had a result; its output: {output}", {})
