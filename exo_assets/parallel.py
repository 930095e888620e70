"""Ordered, failure-isolating maps for per-star / per-signal work: local processes, threads or Dask.

Every map returns `[fn(x) for x in items]` in input order. An item whose call raises (or whose
worker process dies) does not stop the others: its slot gets `on_error(item, ItemError)` — the
caller's "failed" record for that item — or, without `on_error`, the map raises `ItemFailure`
after all items ran.

Local processes come from a *forkserver* whose process preloads the science modules once: forking
from a clean server avoids "fork() called from a process already using GNU OpenMP" (numba/batman in
the parent) while keeping worker start-up cheap. Each worker pins numba and BLAS to one thread
(with two busy workers on two cores, numba's parallel kernels otherwise oversubscribe and run
10x slower). Dask workers get the same one-thread setting inside every task (numba's thread count
is per calling thread).

A worker that dies (segfault, out of memory, `os._exit`) breaks a local pool: the rest runs in a
fresh pool and the items that were in flight are run again, one at a time, so only the item that
kills its worker is recorded as failed.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Sequence
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial

# Imported once by the forkserver, so a new worker starts with them loaded (lightkurve alone takes
# ~8 s to import here; the science modules import it, wotan and batman lazily, at first use).
_PRELOAD = ["exo_assets", "numba", "lightkurve", "wotan", "batman", "scipy.optimize", "astropy.timeseries",
            "exo_assets.science.prepare", "exo_assets.science.features", "exo_assets.science.simulator"]
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
_local = threading.local()


@dataclass(frozen=True)
class ItemError:
    """Why one item of a map has no result.

    Attributes:
        index: position of the item in the input.
        message: "ExceptionType: text" of what `fn` raised, or why the worker running it died.
        detail: the remote traceback (empty for a dead worker).
    """

    index: int
    message: str
    detail: str = ""

    def __str__(self) -> str:
        return self.message


class ItemFailure(RuntimeError):
    """Raised by a map without `on_error` when items failed; `errors` lists them (input order)."""

    def __init__(self, errors: list[ItemError]):
        self.errors = errors
        first = errors[0]
        super().__init__(f"{len(errors)} item(s) failed; first (item {first.index}): {first.message}\n{first.detail}")


OnError = Callable[[object, ItemError], object] | None


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


def _init_worker() -> None:
    for var in _THREAD_VARS:
        # numba reads NUMBA_NUM_THREADS once, at import (the forkserver preloads it): changing the variable
        # afterwards makes its next config reload (at the first compile) fail; set_num_threads below is the way.
        if var == "NUMBA_NUM_THREADS" and "numba" in sys.modules:
            continue
        os.environ[var] = "1"
    try:
        import numba

        numba.set_num_threads(1)
    except (ImportError, ValueError):  # pragma: no cover - numba ships with wotan
        pass


def _single_threaded_once() -> None:
    """`_init_worker` once per thread (Dask runs tasks in its own executor threads)."""
    if not getattr(_local, "pinned", False):
        _init_worker()
        _local.pinned = True


def _call_chunk(fn: Callable, chunk: Sequence[tuple[int, object]], pin_threads: bool = False) -> list[tuple]:
    """Run `fn` on (index, item) pairs; returns (index, True, result) or (index, False, message, traceback)."""
    if pin_threads:
        _single_threaded_once()
    out = []
    for index, item in chunk:
        try:
            out.append((index, True, fn(item)))
        except Exception as exc:  # one bad item is that item's failure, never the whole map's
            out.append((index, False, f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    return out


def _finish(items: list, outcomes: dict[int, tuple], on_error: OnError) -> list:
    results, errors = [], []
    for index, item in enumerate(items):
        outcome = outcomes[index]
        if outcome[1]:
            results.append(outcome[2])
            continue
        error = ItemError(index, outcome[2], outcome[3] if len(outcome) > 3 else "")
        if on_error is None:
            errors.append(error)
            results.append(None)
        else:
            results.append(on_error(item, error))
    if errors:
        raise ItemFailure(errors)
    return results


def _chunks(indexed: list[tuple[int, object]], size: int) -> list[list[tuple[int, object]]]:
    return [indexed[i:i + size] for i in range(0, len(indexed), size)]


def _process_pool(max_workers: int) -> ProcessPoolExecutor:
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    return ProcessPoolExecutor(max_workers, mp_context=ctx, initializer=_init_worker)


def _run_pool(fn: Callable, chunks: list[list[tuple[int, object]]], max_workers: int,
              outcomes: dict[int, tuple]) -> list[tuple[int, object]]:
    """Run chunks with at most `max_workers` in flight; returns the (index, item) pairs lost to a dying worker.

    A worker that dies breaks the pool: the chunks in flight are lost, a fresh pool takes the rest.
    """
    pending = deque(chunks)
    lost: list[tuple[int, object]] = []
    while pending:
        with _process_pool(max_workers) as pool:
            inflight: dict = {}
            broken = False
            while (pending or inflight) and not broken:
                while pending and len(inflight) < max_workers:
                    chunk = pending.popleft()
                    inflight[pool.submit(_call_chunk, fn, chunk)] = chunk
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                if any(f.exception() is not None for f in done):
                    broken = True
                    done = list(inflight)  # the others in flight fail with the pool (or just finished)
                    wait(done)
                for future in done:
                    chunk = inflight.pop(future)
                    if future.exception() is None:
                        for outcome in future.result():
                            outcomes[outcome[0]] = outcome
                    elif isinstance(future.exception(), BrokenProcessPool):
                        lost.extend(chunk)
                    else:  # a result that cannot be unpickled, ...: every item of the chunk fails with it
                        exc = future.exception()
                        for index, _ in chunk:
                            outcomes[index] = (index, False, f"{type(exc).__name__}: {exc}", "")
    return lost


def parallel_map(fn: Callable, items: Iterable, max_workers: int = 2, min_items: int = 4,
                 on_error: OnError = None) -> list:
    """`[fn(x) for x in items]` in `max_workers` local processes when there are at least `min_items`.

    `fn` must be a module-level function and items and results picklable. Order is preserved; a
    failing item gets `on_error(item, ItemError)` (see the module docstring).
    """
    items = list(items)
    indexed = list(enumerate(items))
    outcomes: dict[int, tuple] = {}
    if max_workers <= 1 or len(items) < min_items:
        for outcome in _call_chunk(fn, indexed):
            outcomes[outcome[0]] = outcome
        return _finish(items, outcomes, on_error)
    chunksize = max(1, len(items) // (4 * max_workers))
    lost = _run_pool(fn, _chunks(indexed, chunksize), max_workers, outcomes)
    # A worker died: rerun what was in flight one item per task, then one task at a time, so that
    # only the item that kills its worker is recorded as failed.
    if lost and chunksize > 1:
        lost = _run_pool(fn, _chunks(lost, 1), max_workers, outcomes)
    if lost:
        lost = _run_pool(fn, _chunks(lost, 1), 1, outcomes)
    for index, _ in lost:
        outcomes[index] = (index, False, "worker process died while running this item (crash or out of memory)", "")
    return _finish(items, outcomes, on_error)


def threaded_map(fn: Callable, items: Iterable, max_workers: int = 2, on_error: OnError = None) -> list:
    """`[fn(x) for x in items]` in `max_workers` threads (for I/O-bound work such as downloads)."""
    items = list(items)
    indexed = list(enumerate(items))
    outcomes: dict[int, tuple] = {}
    if max_workers <= 1 or len(items) < 2:
        results = [_call_chunk(fn, indexed)]
    else:
        with ThreadPoolExecutor(max_workers) as pool:
            results = list(pool.map(partial(_call_chunk, fn), [[pair] for pair in indexed]))
    for chunk in results:
        for outcome in chunk:
            outcomes[outcome[0]] = outcome
    return _finish(items, outcomes, on_error)


def _dask_round(client, fn: Callable, indexed: list[tuple[int, object]], scatter: bool,
                outcomes: dict[int, tuple]) -> list[tuple[int, object]]:
    """One task per (index, item); fills `outcomes`, returns the pairs whose task was lost (not an
    exception of `fn`, which `_call_chunk` records as that item's failure)."""
    chunks = [[pair] for pair in indexed]
    data = client.scatter(chunks, hash=False) if scatter else chunks
    futures = client.map(partial(_call_chunk, fn, pin_threads=True), data, pure=False)
    lost = []
    for pair, future in zip(indexed, futures):
        try:
            for outcome in future.result():
                outcomes[outcome[0]] = outcome
        except Exception as exc:  # KilledWorker, CancelledError (its scattered input died with a worker), ...
            outcomes[pair[0]] = (pair[0], False, f"dask task failed ({type(exc).__name__}: {exc})", "")
            lost.append(pair)
    client.cancel(futures + (data if scatter else []))
    return lost


def dask_map(client, fn: Callable, items: Iterable, on_error: OnError = None) -> list:
    """`[fn(x) for x in items]` on a `dask.distributed.Client`, one task per item, in input order.

    Items are scattered to the workers first (large arrays do not travel inside the task graph).
    Scattered data has no lineage: a worker that dies (segfault, OOM kill) takes the inputs of every
    item placed on it along. Those items run again with their input inside the task, where dask
    reschedules tasks of a dead worker; a task that was running beside the killer each time can still
    be blamed (`KilledWorker`), so what is lost again runs one item at a time: only the item that
    kills its worker fails.
    """
    items = list(items)
    outcomes: dict[int, tuple] = {}
    if items:
        lost = _dask_round(client, fn, list(enumerate(items)), True, outcomes)
        if lost:
            lost = _dask_round(client, fn, lost, False, outcomes)
        for pair in lost:
            _dask_round(client, fn, [pair], False, outcomes)
    return _finish(items, outcomes, on_error)
