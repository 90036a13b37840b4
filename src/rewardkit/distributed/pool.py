"""``RayScorer``: any term scored by a pool of Ray actors, on one machine or a cluster.

The batch is cut into chunks of ``chunk_size`` samples; each chunk goes to
one of ``actors`` Ray actors, each holding its own copy of the term, and the
outputs are joined in order, so the result equals ``term(batch)`` called in
this process (the terms' outputs do not depend on how a batch is chunked).

Faults: an actor that dies (a killed process, a lost node) is restarted by
Ray (``max_restarts``) and its chunk is sent again (``max_task_retries``), so
nothing is lost. A chunk that still fails comes back with status ``error``
and the reason, and one not back within ``timeout_s`` with ``timeout``: never
as a score. An actor past its restarts stays failed; :meth:`RayScorer.close`
and a new call start a fresh pool.

Pointing it at a cluster: start Ray on the machines (``ray start --head`` on
one, ``ray start --address=HEAD:6379`` on the others), then pass
``address="auto"`` on a cluster node, or ``address="ray://HEAD:10001"`` from
outside (Ray Client), or set ``RAY_ADDRESS``. Without an address and without
a running Ray, a local instance starts with this machine's CPUs.

Example:
    >>> import ray
    >>> from rewardkit.core import term
    >>> _ = ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    >>> length = term(lambda completion: [len(c) for c in completion], name="length")
    >>> scorer = RayScorer(length, actors=1, chunk_size=2)
    >>> scorer({"completion": ["a", "bb", "ccc"]}).total.tolist()
    [1.0, 2.0, 3.0]
    >>> ray.shutdown()
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from rewardkit.core.batch import Batch, batch_size
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.output import RewardOutput, Status, concat_outputs, failed_output
from rewardkit.core.term import RewardTerm, Term, as_term

__all__ = ["RayScorer", "ensure_ray"]


def ensure_ray(address: str | None = None, num_cpus: int | None = None) -> Any:
    """The ``ray`` module, connected: to ``address`` (or ``RAY_ADDRESS``), else to a local
    instance started with ``num_cpus`` (default: this machine's CPUs)."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigurationError(
            "Ray is not installed: pip install 'rewardkit[distributed]'"
        ) from exc
    if not ray.is_initialized():
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address is not None:
            options["address"] = address
        elif num_cpus is not None:
            options["num_cpus"] = num_cpus
        ray.init(**options)
    return ray


class _ScoringActor:
    """One actor: a copy of the term, scoring the chunks it is sent."""

    def __init__(self, term: Term) -> None:
        self.term = term

    def score(self, chunk: Mapping[str, Sequence[Any]]) -> RewardOutput:
        return self.term(chunk)

    def pid(self) -> int:
        import os

        return os.getpid()


class RayScorer(RewardTerm):
    """``term``, scored in chunks by a pool of Ray actors (see the module docs).

    Args:
        term: any rewardkit term (it must pickle: specs, verifiers and learned models do).
        actors: actors in the pool (each holds one copy of the term and one CPU).
        chunk_size: samples per task.
        address: the Ray cluster to join (None: ``RAY_ADDRESS``, or a local instance).
        max_restarts: times Ray restarts a dead actor.
        max_task_retries: times a chunk is sent again after its actor died.
        timeout_s: how long a call waits for its chunks; the ones not back by then are
            cancelled and come back as ``timeout``.
        name: the term's name (default: the wrapped term's).
    """

    def __init__(
        self,
        term: Term,
        actors: int = 2,
        chunk_size: int = 256,
        address: str | None = None,
        max_restarts: int = 3,
        max_task_retries: int = 3,
        timeout_s: float = 600.0,
        name: str | None = None,
    ) -> None:
        self.term = as_term(term)
        super().__init__(name or self.term.name)
        if actors < 1 or chunk_size < 1 or max_restarts < 0 or max_task_retries < 0:
            raise ConfigurationError(
                "actors and chunk_size must be >= 1, max_restarts and max_task_retries >= 0"
            )
        if not timeout_s > 0:
            raise ConfigurationError(f"timeout_s must be positive, got {timeout_s}")
        self.timeout_s = float(timeout_s)
        self._lock = threading.Lock()
        self.actors, self.chunk_size, self.address = actors, chunk_size, address
        self.max_restarts, self.max_task_retries = max_restarts, max_task_retries
        self._pool: list[Any] | None = None
        self._term_ref: Any = None

    def __getstate__(self) -> dict[str, Any]:  # actor handles stay in their process
        return {**self.__dict__, "_pool": None, "_term_ref": None, "_lock": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop the actors (a later call starts new ones)."""
        with self._lock:
            if self._pool is not None:
                ray = ensure_ray(self.address)
                for actor in self._pool:
                    ray.kill(actor, no_restart=True)
            self._pool, self._term_ref = None, None

    def pool(self) -> list[Any]:
        """The actor handles (started on first use)."""
        with self._lock:
            return self._start_pool()

    def _start_pool(self) -> list[Any]:
        if self._pool is None:
            ray = ensure_ray(self.address)
            actor = ray.remote(num_cpus=1, max_restarts=self.max_restarts,
                               max_task_retries=self.max_task_retries)(_ScoringActor)  # fmt: skip
            # the term's object is kept alive with the pool: a restarted actor reads it again
            self._term_ref = ray.put(self.term)
            self._pool = [actor.remote(self._term_ref) for _ in range(self.actors)]
        return self._pool

    def _compute(self, batch: Batch) -> RewardOutput:
        ray = ensure_ray(self.address)
        count = batch_size(batch)
        pool = self.pool()
        bounds = [(s, min(s + self.chunk_size, count)) for s in range(0, count, self.chunk_size)]
        pending = [
            pool[index % len(pool)].score.remote(
                {key: list(values[start:stop]) for key, values in batch.items()}
            )
            for index, (start, stop) in enumerate(bounds)
        ]
        ready, _ = ray.wait(pending, num_returns=len(pending), timeout=self.timeout_s)
        finished = set(ready)
        parts: list[RewardOutput] = []
        for (start, stop), reference in zip(bounds, pending, strict=True):
            if reference not in finished:
                ray.cancel(reference)
                late = f"not scored by the Ray actors within {self.timeout_s:g} s"
                parts.append(failed_output(stop - start, Status.TIMEOUT, late, [self.term.name]))
                continue
            try:
                parts.append(ray.get(reference))
            except Exception as exc:  # retries exhausted: an error, never a score
                message = f"the Ray actor failed: {type(exc).__name__}: {str(exc)[:300]}"
                parts.append(failed_output(stop - start, Status.ERROR, message, [self.term.name]))
        out = concat_outputs(parts)
        terms = dict(out.terms)
        terms.setdefault(self.name, out.total.copy())
        return RewardOutput(out.total, terms, out.status, out.messages)
