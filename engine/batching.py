"""Concurrent requests from the event loop become one batch on one worker thread.

A job (the candidate rows of one request) waits up to `max_wait_ms` for company and for the torch
thread to be free, then the jobs waiting run together through engine.sampling.sample, as many as
fit in `max_rows` once each is cut to its share: a job that may be cut (`least`) gives up its last
rows when the queue holds more than one batch, so that a burst is answered in one batch instead of
two. The event loop never blocks; past `max_queued_rows` a new job is refused at once with Busy; a
job that times out or is cancelled is simply not answered, and the others in its batch are
unaffected. Closing finishes the jobs already accepted (a model swap lets requests under way end on
the old model).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from engine.sampling import Backend, Row, sample

Item = TypeVar("Item")
Result = TypeVar("Result")


def _nothing() -> None:
    """Run on the torch thread to learn when the work queued before it is done."""


class Busy(RuntimeError):
    """Too many requests are waiting; try again in a moment."""


@dataclass
class _Job:
    rows: list[Row]
    least: int  # the fewest of its rows it may be answered with
    future: asyncio.Future
    arrived: float  # the loop's clock when it was queued


class Batcher:
    def __init__(
        self,
        backend: Backend,
        pad_id: int,
        executor: ThreadPoolExecutor,
        max_rows: int = 64,
        max_wait_ms: float = 5.0,
        max_queued_rows: int = 1024,
        timeout_s: float = 60.0,
    ):
        self.backend = backend
        self.pad_id = pad_id
        self.max_rows = max_rows
        self.max_wait = max_wait_ms / 1000
        self.max_queued_rows = max_queued_rows
        self.timeout_s = timeout_s
        self.pending: list[_Job] = []
        self.running: list[_Job] = []
        self.executor = executor  # the one thread that runs torch (see engine.poet.torch_thread)
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None
        self.batches_run = 0

    @property
    def rows_in_flight(self) -> int:
        """Rows waiting for a batch or in the one running."""
        return sum(len(job.rows) for job in (*self.pending, *self.running))

    async def run(self, rows: list[Row], least: int | None = None) -> list[Row]:
        """The rows sampled; with `least`, only the first `least` or more of them when the queue is long
        (candidates of one request: fewer of them under a burst, rather than a second batch)."""
        least = len(rows) if least is None else min(least, len(rows))
        if sum(job.least for job in self.pending) + least > self.max_queued_rows:
            raise Busy("the poet is busy; try again in a moment")
        wake = self._start()
        loop = asyncio.get_running_loop()
        job = _Job(rows, least, loop.create_future(), loop.time())
        self.pending.append(job)
        wake.set()
        try:
            return await asyncio.wait_for(asyncio.shield(job.future), self.timeout_s)
        finally:
            if not job.future.done():  # timed out or cancelled: drop it if it has not started
                job.future.cancel()
                if job in self.pending:
                    self.pending.remove(job)

    def _start(self) -> asyncio.Event:
        if self._wake is None or self._worker is None or self._worker.done():
            self._wake = asyncio.Event()
            self._worker = asyncio.get_running_loop().create_task(self._work(self._wake))
        return self._wake

    async def _work(self, wake: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await wake.wait()
            wake.clear()
            if not self.pending:
                continue
            while self.pending:
                # Let concurrent requests join this batch, and the requests the last batch answered hand their
                # readings (engine.poet) to the torch thread before the next batch: queued behind it, the first
                # batch's requests of a burst of 20 waited for the second's 1.5 s before they were read.
                await asyncio.sleep(self.max_wait)
                # The batch is formed once the torch thread is free, so that requests arriving while it reads the
                # last batch's answers join it: in a burst of 20 two came during those reads, missed the batch
                # formed before them, and ran in a third batch after every other request had been read.
                await loop.run_in_executor(self.executor, _nothing)
                batch = self._next_batch()
                if not batch:
                    continue
                formed = loop.time()
                for job in batch:
                    for row in job.rows:
                        row.queued_s = formed - job.arrived
                all_rows = [row for job in batch for row in job.rows]
                self.running = batch
                try:
                    await loop.run_in_executor(self.executor, sample, self.backend, all_rows, self.pad_id)
                except Exception as error:  # the batch failed: every job in it hears why
                    for job in batch:
                        if not job.future.done():
                            job.future.set_exception(error)
                    continue
                finally:
                    self.running = []
                self.batches_run += 1
                for job in batch:
                    if not job.future.done():
                        job.future.set_result(job.rows)

    def _next_batch(self) -> list[_Job]:
        """Take the waiting jobs, in order, while their fewest rows fit in a batch (the first always), and
        cut each to its share: its fewest rows, then one more each in turn while the batch has room."""
        batch: list[_Job] = []
        least_rows = 0
        while self.pending and (not batch or least_rows + self.pending[0].least <= self.max_rows):
            job = self.pending.pop(0)
            if not job.future.cancelled():
                batch.append(job)
                least_rows += job.least
        shares = [job.least for job in batch]
        room = self.max_rows - least_rows
        while room > 0 and any(share < len(job.rows) for share, job in zip(shares, batch)):
            for index, job in enumerate(batch):
                if room > 0 and shares[index] < len(job.rows):
                    shares[index] += 1
                    room -= 1
        for job, share in zip(batch, shares):
            job.rows = job.rows[:share]
        return batch

    async def close(self) -> None:
        """Finish the jobs already accepted, then stop."""
        waiting = [job.future for job in (*self.running, *self.pending)]
        await asyncio.gather(*waiting, return_exceptions=True)
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass


class Gatherer(Generic[Item, Result]):
    """Calls made within `max_wait_ms` of each other run as one call of `run_all(items)` on the executor,
    which answers each item in order.

    engine.poet reads the candidates of the requests one batch answered this way: read one request at a
    time, the 17 requests of a burst's second batch took 1.0 s to read (56 ms each, hopping between the event
    loop and the torch thread), and the last of them was answered that much later.
    """

    def __init__(
        self, run_all: Callable[[list[Item]], list[Result]], executor: ThreadPoolExecutor, max_wait_ms: float = 1.0
    ):
        self.run_all = run_all
        self.executor = executor
        self.max_wait = max_wait_ms / 1000
        self.waiting: list[tuple[Item, asyncio.Future[Result]]] = []

    async def run(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self.waiting.append((item, future))
        if len(self.waiting) == 1:
            loop.call_later(self.max_wait, self._run_waiting)
        return await future

    def _run_waiting(self) -> None:
        gathered, self.waiting = self.waiting, []
        done = asyncio.get_running_loop().run_in_executor(self.executor, self.run_all, [item for item, _ in gathered])

        def answer(done: asyncio.Future[list[Result]]) -> None:
            error = done.exception()
            results = done.result() if error is None else []
            for index, (_, future) in enumerate(gathered):
                if future.done():  # its caller was cancelled
                    continue
                if error is not None:  # every caller hears why
                    future.set_exception(error)
                else:
                    future.set_result(results[index])

        done.add_done_callback(answer)
