"""Small module-level job functions for the compute tests (workers import this module: keep it light)."""

from __future__ import annotations

import os
import time


def square_or_fail(x: int) -> int:
    """x², except that item 3 raises."""
    if x == 3:
        raise ValueError("bad item 3")
    return x * x


def square_or_die(x: int) -> int:
    """x², except that item 5 kills its worker process (as a segfault or the OOM killer would)."""
    if x == 5:
        os._exit(3)
    return x * x


def pid(_: int) -> int:
    """The id of the process that ran the item, after 0.2 s of "work" (so that idle workers get items)."""
    time.sleep(0.2)
    return os.getpid()


def compile_numba(x: int) -> tuple[int, int]:
    """(0 + 1 + ... + x, numba threads in use), through a numba function compiled in the worker: numba
    reloads its config at a first compile, which fails if NUMBA_NUM_THREADS changed after import."""
    import numba
    import numpy as np

    @numba.njit(parallel=True, cache=False)
    def total(a):
        s = 0.0
        for i in numba.prange(a.size):
            s += a[i]
        return s

    return int(total(np.arange(x + 1, dtype=np.float64))), numba.get_num_threads()
