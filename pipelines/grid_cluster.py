"""Where a gridding's tile work runs: Dask workers for large inputs, else this process.

``geo`` cuts a gridding into pieces by count (METIS tiles, chunks of street
crossings and of polygons) and hands them to a *tile map* (``geo.tiling``).
This module supplies it for ``linpu grids build``:

- ``--scheduler tcp://host:8786``: the pieces go to that existing Dask cluster
  (its workers need linpu installed, the same version);
- else, from ``CLUSTER_MIN_SHOPS`` shops: a ``distributed.LocalCluster`` of
  worker processes, one per core, one thread each, started for the one
  command and closed after it, whatever happens;
- below that: this process, as the analyst's page always does (a cluster
  costs about two seconds to start, more than it saves on a district).

Dask is imported only when a cluster is used, so the other commands and the
dashboard never load it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

from governance.errors import LinpuError

#: From this many shops ``linpu grids build`` starts a local cluster by itself.
CLUSTER_MIN_SHOPS = 200_000
#: Pieces per worker: a few each, so that a worker finished early takes another.
BATCHES_PER_WORKER = 4
#: Seconds to wait for a scheduler given with ``--scheduler``.
CONNECT_TIMEOUT_S = 10


class ClusterError(LinpuError):
    """A Dask scheduler that cannot be reached or used."""


class Done:
    """A result already computed (what :meth:`InProcess.submit` returns)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value


class InProcess:
    """Tile work in this process, one piece after the other; ``share`` and ``submit`` as :class:`OnDask`."""

    workers = 1
    address = None

    def map(self, function: Callable[[Any], Any], pieces: Sequence[Any]) -> list:
        return [function(piece) for piece in pieces]

    def share(self, value: Any) -> Any:
        return value

    def submit(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Done:
        """Run ``function`` now; arguments that are earlier :class:`Done` results are unwrapped."""
        args = [a.value if isinstance(a, Done) else a for a in args]
        kwargs = {k: v.value if isinstance(v, Done) else v for k, v in kwargs.items()}
        return Done(function(*args, **kwargs))


class OnDask:
    """Tile work on the workers of a Dask cluster, results in the order of the pieces."""

    def __init__(self, client) -> None:
        self.client = client
        self.address = client.scheduler.address
        self.workers = max(1, len(client.scheduler_info()["workers"]))

    def map(self, function: Callable[[Any], Any], pieces: Sequence[Any]) -> list:
        if not pieces:
            return []
        # Contiguous batches by position: gathering them in order and
        # flattening gives the pieces' order whatever ran where or first.
        n = min(len(pieces), BATCHES_PER_WORKER * self.workers)
        cuts = [round(i * len(pieces) / n) for i in range(n + 1)]
        batches = [list(pieces[lo:hi]) for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)]
        # Scattered first, the arrays travel once, straight to a worker,
        # rather than inside the task graph through the scheduler.
        data = self.client.scatter(batches, hash=False)
        futures = self.client.map(partial(run_batch, function), data, pure=False)
        return [result for batch in self.client.gather(futures) for result in batch]

    def share(self, value: Any):
        """``value`` sent once to a worker, to pass to several :meth:`submit` calls."""
        return self.client.scatter(value, hash=False)

    def submit(self, function: Callable[..., Any], *args: Any, **kwargs: Any):
        """``function`` on a worker; the future's ``result()`` waits for it.

        Arguments may be earlier futures (resolved on the worker); frames and
        arrays are scattered first, so they go straight to a worker.
        """
        args = [self._scattered(a) for a in args]
        kwargs = {k: self._scattered(v) for k, v in kwargs.items()}
        return self.client.submit(function, *args, pure=False, **kwargs)

    def _scattered(self, value: Any) -> Any:
        if value is None or isinstance(value, int | float | str | bool) or hasattr(value, "key"):
            return value
        return self.client.scatter(value, hash=False)


def run_batch(function: Callable[[Any], Any], batch: list) -> list:
    """One task on a worker: the pieces of one batch, in order."""
    return [function(piece) for piece in batch]


def local_workers() -> int:
    """Cores this process may use: one worker each."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def tile_runner(n_shops: int, *, scheduler: str | None = None) -> Iterator[InProcess | OnDask]:
    """Who runs the tile work of a gridding of ``n_shops`` shops; any cluster started is closed after.

    ``scheduler`` (an address such as ``tcp://10.0.0.5:8786``) sends the work
    to that cluster whatever the size; without it a local cluster is started
    from ``CLUSTER_MIN_SHOPS`` shops, and below that the work stays here.
    """
    if scheduler is None and n_shops < CLUSTER_MIN_SHOPS:
        yield InProcess()
        return
    # Dask only when a cluster is used: the import alone costs half a second
    # and the dashboard and small builds must never start one.
    from distributed import Client, LocalCluster
    from distributed.comm import CommClosedError  # with the above: only when a cluster is used
    from distributed.scheduler import KilledWorker  # idem

    cluster = client = None
    try:
        if scheduler is not None:
            client = _connect(Client, scheduler)
        else:
            n = local_workers()
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                memory_limit=_worker_memory(n),
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            client = Client(cluster)
        yield OnDask(client)
    except (KilledWorker, CommClosedError) as exc:
        where = scheduler or "the local cluster"
        raise ClusterError(
            f"the Dask cluster at {where} lost a worker or its connection ({exc}); a worker "
            "may have run out of memory: give the workers more, or use more of them"
        ) from None
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def _connect(client_type, address: str):
    try:
        return client_type(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} ({exc}); start one "
            "(`dask scheduler` and `dask worker ADDRESS` on each machine) or leave out --scheduler"
        ) from None


def _worker_memory(n_workers: int) -> int:
    """Bytes each local worker may hold: the machine's memory shared with this process."""
    # psutil comes with distributed.
    import psutil

    return int(psutil.virtual_memory().total // (n_workers + 1))
