"""Benchmark runs as Ray tasks: ``rewardkit bench SUITE --ray [ADDRESS]``.

A suite's runs are independent units; each becomes one Ray task with one CPU,
and the results come back in the order they finish, as with ``--jobs``. A
task runs in the driver's working directory when that directory exists on its
node (a local instance, or a cluster with shared storage), so the suites'
caches (``runs/...``) are shared; on a node without it, the task runs where
Ray starts it and builds its own caches.

Example:
    >>> import ray
    >>> _ = ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    >>> sorted(r["square"] for r in run_on_ray(lambda n: {"square": n * n}, [1, 2, 3]))
    [1, 4, 9]
    >>> ray.shutdown()
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from rewardkit.distributed.pool import ensure_ray

__all__ = ["run_on_ray"]


#: one CPU per task, as with ``--jobs``: BLAS held to one thread in the task's worker
SINGLE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                         "MKL_NUM_THREADS")}  # fmt: skip


def _in_directory(function: Callable[[Any], dict[str, Any]], unit: Any, folder: str) -> Any:
    if os.path.isdir(folder):
        os.chdir(folder)
    return function(unit)


def run_on_ray(
    function: Callable[[Any], dict[str, Any]],
    units: Sequence[Any],
    address: str | None = None,
) -> Iterator[dict[str, Any]]:
    """``function`` over ``units`` as Ray tasks (one CPU each), results as they finish.
    ``address``: a cluster (``auto``, ``ray://HEAD:10001``), or None for ``RAY_ADDRESS`` or
    a local instance."""
    ray = ensure_ray(address)
    task = ray.remote(num_cpus=1, max_retries=1,
                      runtime_env={"env_vars": SINGLE_THREAD})(_in_directory)  # fmt: skip
    folder = os.getcwd()
    pending = [task.remote(function, unit, folder) for unit in units]
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    finally:  # a failed run (or a caller that stops early) leaves no task running
        for reference in pending:
            ray.cancel(reference, force=True)
