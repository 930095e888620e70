"""`ComputeResource`: where per-star and per-signal work runs (local process pool or Dask distributed).

The assets hand their per-item functions to `ComputeResource.map` — simulation and download in the
archive, cleaning in `cleaned_curves`, views and diagnostics in `features` — so the same code runs
on one machine or on a cluster. Results come back in input order; an item that fails (or whose
worker dies) becomes that item's failure record, never the run's (see `exo_assets.parallel`).

Backends:
- "local" (default): a forkserver process pool of `max_workers` one-thread workers (threads for
  I/O-bound work such as MAST downloads).
- "dask": `dask.distributed.Client(scheduler_address)`; with no address, the `DASK_SCHEDULER_ADDRESS`
  setting of dask's own configuration, else an in-process `LocalCluster` of `max_workers` one-thread
  worker processes. Files the workers write (archive cache) must be on storage every worker and the
  Dagster run can read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Literal

import dagster as dg
from pydantic import Field, PrivateAttr

from exo_assets.parallel import ItemError, available_cores, dask_map, parallel_map, threaded_map

log = logging.getLogger(__name__)


class ComputeUnavailable(RuntimeError):
    """The configured Dask scheduler cannot be reached (nothing was run)."""


class ComputeResource(dg.ConfigurableResource):
    """Runs per-item work locally or on Dask distributed.

    Attributes:
        backend: "local" (process pool on this machine) or "dask" (a Dask distributed cluster).
        max_workers: local worker processes, or the size of the Dask LocalCluster started when no
            scheduler is configured; 0 = every core this process may use.
        scheduler_address: Dask scheduler, e.g. "tcp://dask-scheduler:8786" (backend "dask").
        connect_timeout_s: seconds to wait for the Dask scheduler before failing with a clear error.
    """

    backend: Literal["local", "dask"] = "local"
    max_workers: int = Field(default=0, ge=0)
    scheduler_address: str = ""
    connect_timeout_s: float = Field(default=10.0, gt=0)

    _client: Any = PrivateAttr(default=None)
    _cluster: Any = PrivateAttr(default=None)

    def workers(self) -> int:
        """Local worker processes (`max_workers`, 0 = all cores)."""
        return self.max_workers or available_cores()

    def describe(self) -> str:
        """Short human-readable description, e.g. "local, 2 workers" or "dask tcp://...:8786"."""
        if self.backend == "local":
            return f"local, {self.workers()} workers"
        return f"dask {self.scheduler_address or 'LocalCluster'}"

    def client(self):
        """The `dask.distributed.Client` (connected on first use; backend "dask" only)."""
        if self.backend != "dask":
            raise ValueError("client() needs backend 'dask'")
        if self._client is None:
            import dask
            from distributed import Client, LocalCluster

            address = self.scheduler_address or dask.config.get("scheduler-address", None)
            try:
                if address:
                    self._client = Client(address, timeout=self.connect_timeout_s, set_as_default=False)
                else:
                    self._cluster = LocalCluster(
                        n_workers=self.workers(), threads_per_worker=1, processes=True, dashboard_address=None
                    )
                    self._client = Client(self._cluster, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise ComputeUnavailable(
                    f"cannot reach the Dask scheduler at {address!r} within "
                    f"{self.connect_timeout_s:g} s ({type(exc).__name__}: {exc}); "
                    "check scheduler_address or use backend 'local'"
                ) from exc
        return self._client

    def map(
        self,
        fn: Callable,
        items: Iterable,
        *,
        on_error: Callable[[object, ItemError], object] | None = None,
        max_workers: int = 0,
        io_bound: bool = False,
    ) -> list:
        """`[fn(x) for x in items]` on the configured backend, in input order.

        Args:
            fn: module-level function (pickled to the workers); items and results must be picklable.
            items: the work items.
            on_error: `(item, ItemError) -> failure record` for an item that raised or lost its worker;
                None raises `exo_assets.parallel.ItemFailure` after all items ran.
            max_workers: cap on local workers for this call (0 = no cap); ignored by Dask.
            io_bound: local backend only: threads instead of processes (downloads).
        """
        if self.backend == "dask":
            return dask_map(self.client(), fn, items, on_error)
        workers = min(self.workers(), max_workers) if max_workers else self.workers()
        if io_bound:
            return threaded_map(fn, items, workers, on_error)
        return parallel_map(fn, items, workers, on_error=on_error)

    def close(self) -> None:
        """Disconnect from Dask (and stop a LocalCluster this resource started)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()
