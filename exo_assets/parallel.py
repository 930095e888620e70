"""Process-parallel map for per-star work (simulation, cleaning, features).

Workers come from a *forkserver* whose process preloads the science modules once: forking from a
clean server avoids "fork() called from a process already using GNU OpenMP" (numba/batman in
the parent) while keeping worker start-up cheap. Each worker pins numba and BLAS to one thread
(with two busy workers on two cores, numba's parallel kernels otherwise oversubscribe and run
10x slower).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor

_PRELOAD = ["exo_assets.science.prepare", "exo_assets.science.features"]
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def _init_worker() -> None:
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    try:
        import numba

        numba.set_num_threads(1)
    except (ImportError, ValueError):  # pragma: no cover - numba ships with wotan
        pass


def parallel_map(fn: Callable, items: Iterable, max_workers: int = 2, min_items: int = 4) -> list:
    """`[fn(x) for x in items]`, in `max_workers` processes when there are enough items.

    `fn` must be a module-level function and items picklable. Order is preserved.
    """
    items = list(items)
    if max_workers <= 1 or len(items) < min_items:
        return [fn(x) for x in items]
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    chunksize = max(1, len(items) // (4 * max_workers))
    with ProcessPoolExecutor(max_workers, mp_context=ctx, initializer=_init_worker) as pool:
        return list(pool.map(fn, items, chunksize=chunksize))
