"""A model-written LaRe encoder run only in the sandbox, and the term that prefetches its factors.

:class:`SandboxedEncoder` evaluates ``encode(obs, action) -> factors`` (code that
:func:`~rewardkit.author.latent_factors.write_encoder` accepted) over a batch of rows in one
sandboxed run: an (N, k) array, or each failed row's reason. It is also the
``encoder(obs, action)`` callable that
:class:`~rewardkit.credit.delayed.OnlineRedistribution` (``lare``) expects: each call looks
up a prefetched row, or runs the code for that row alone (slow).

:class:`PrefetchEncoder` wraps a term so that every batch is encoded in one run before the
term reads it. A row that cannot be encoded has no reward (status ``error``, or
``timeout`` where the whole run ran past its limit) and the term never sees it; the other
rows are scored as usual. For an episodic term (one that reads ``terminated`` or
``truncated``, such as the redistribution), a step that is missing would leave its
episode's return wrong, and a decoder trained on that episode would learn a wrong total;
so the whole episode the failed step belongs to is withheld: its steps in this batch are
not scored, the term forgets that env's open episode (its steps from earlier batches), and
the env's later steps are withheld until the episode ends. The next episode is scored
again. Several threads may call one :class:`PrefetchEncoder`: the rows each prefetched
stay until it is done with them, and the calls into the wrapped term are serialised.

Example:
    >>> sandbox = Sandbox(SandboxLimits(wall_seconds=5))
    >>> code = "def encode(obs, action):\\n    return [1.0 / obs[0], float(action)]\\n"
    >>> encoder = SandboxedEncoder(code, dim=2, sandbox=sandbox)
    >>> run = encoder.encode(np.array([[2.0], [0.0]]), np.array([1, 0]))
    >>> run.row_values[0].tolist(), run.row_errors[1]
    ([0.5, 1.0], 'row 1: ZeroDivisionError: float division by zero')
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np

from rewardkit.author.sandboxed import SandboxRun, SandboxSettings, run_function
from rewardkit.core.batch import Batch, get_column, take
from rewardkit.core.errors import ConfigurationError, RewardKitError
from rewardkit.core.output import RewardOutput, Status
from rewardkit.core.term import RewardTerm
from rewardkit.credit.delayed import OnlineRedistribution
from rewardkit.verify.sandbox import Sandbox, SandboxLimits

__all__ = ["EncoderFailedError", "PrefetchEncoder", "SandboxedEncoder"]


class EncoderFailedError(RewardKitError, RuntimeError):
    """A sandboxed encoder could not encode a row (its run failed or timed out)."""


class SandboxedEncoder:
    """A model-written ``encode(obs, action)``, evaluated only in the sandbox.

    Args:
        code: the source.
        dim: the number of factors it returns (checked on every row).
        entry: the function's name.
        limits: the limits of one run (one batch).
        sandbox: the sandbox (default: full isolation); a pickled copy rebuilds it from
            its settings.

    Attributes:
        runs: sandboxed runs so far; ``misses``: calls that found no prefetched row.
    """

    def __init__(
        self,
        code: str,
        dim: int,
        entry: str = "encode",
        limits: SandboxLimits | None = None,
        sandbox: Sandbox | None = None,
    ) -> None:
        self.code, self.dim, self.entry = code, int(dim), entry
        self.limits = limits or SandboxLimits()
        self._sandbox = sandbox or Sandbox(self.limits)
        self._cache: dict[bytes, tuple[np.ndarray, int]] = {}  # key -> (factors, holders)
        self._lock = threading.Lock()
        self.runs = self.misses = 0

    def __getstate__(self) -> dict[str, Any]:
        skip = ("_sandbox", "_cache", "_lock")
        state = {k: v for k, v in self.__dict__.items() if k not in skip}
        return {**state, "_sandbox_settings": SandboxSettings.of(self._sandbox)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        settings = state.pop("_sandbox_settings", None)
        self.__dict__.update(state, _cache={}, _lock=threading.Lock())
        self._sandbox = settings.build() if settings is not None else Sandbox(self.limits)

    @staticmethod
    def _key(observation: Any, action: Any) -> bytes:
        obs = np.asarray(observation, dtype=np.float64).tobytes()
        return obs + b"|" + np.asarray(action, dtype=np.float64).tobytes()

    def encode(self, observations: Any, actions: Any) -> SandboxRun:
        """Factors of N (obs, action) rows in one sandboxed run: values (N, dim) when every
        row was encoded, else each row's factors or why not (``row_values``, ``row_errors``)."""
        rows = [
            [np.asarray(o).tolist(), np.asarray(a).tolist()]
            for o, a in zip(observations, actions, strict=True)
        ]
        with self._lock:
            self.runs += 1
        return run_function(
            self._sandbox, self.code, self.entry, rows, vector=True, limits=self.limits,
            width=self.dim,
        )  # fmt: skip

    def hold(self, observations: Any, actions: Any) -> tuple[SandboxRun, list[bytes]]:
        """:meth:`encode`, keeping each encoded row's factors until :meth:`release` of the
        keys returned (rows another caller holds too stay until both released them)."""
        run = self.encode(observations, actions)
        kept: list[bytes] = []
        if run.row_values is None:
            return run, kept
        with self._lock:
            for obs, action, row, error in zip(
                observations, actions, run.row_values, run.row_errors, strict=True
            ):
                if error is None:
                    key = self._key(obs, action)
                    _, holders = self._cache.get(key, (row, 0))
                    self._cache[key] = (row, holders + 1)
                    kept.append(key)
        return run, kept

    def release(self, keys: Sequence[bytes]) -> None:
        """Let go of rows kept by :meth:`hold` (each key once per time it was returned)."""
        with self._lock:
            for key in keys:
                row, holders = self._cache.get(key, (None, 0))
                if holders > 1:
                    self._cache[key] = (cast(np.ndarray, row), holders - 1)
                else:
                    self._cache.pop(key, None)

    def prefetch(self, observations: Any, actions: Any) -> SandboxRun:
        """:meth:`encode`, keeping each encoded row's factors for the calls that follow
        (until :meth:`clear`)."""
        return self.hold(observations, actions)[0]

    def clear(self) -> None:
        """Forget every prefetched row (also those that other callers hold)."""
        with self._lock:
            self._cache.clear()

    def __call__(self, observation: Any, action: Any) -> list[float]:
        """One row's factors: prefetched, or else one sandboxed run (slow); raises
        :class:`EncoderFailedError` where the row cannot be encoded."""
        with self._lock:
            found = self._cache.get(self._key(observation, action))
            if found is None:
                self.misses += 1
        if found is not None:
            return cast(list[float], found[0].tolist())
        run = self.encode([observation], [action])
        if run.values is None:
            message = f"the generated encoder failed ({run.status}): {run.message}"
            raise EncoderFailedError(message)
        return cast(list[float], run.values[0].tolist())


class PrefetchEncoder(RewardTerm):
    """``term`` with every batch's (obs, action) rows encoded in one sandboxed run first.

    A row that cannot be encoded has no reward (its status and the encoder's message) and
    the wrapped term does not see it. With ``episodic`` (default: the term reads
    ``terminated`` or ``truncated``), the whole episode of such a row is withheld from the
    term, as the module docs say; the term must then be an
    :class:`~rewardkit.credit.delayed.OnlineRedistribution` or have ``forget(env)``, which
    drops one env's open episode.
    """

    def __init__(
        self,
        term: Any,
        encoder: SandboxedEncoder,
        name: str | None = None,
        episodic: bool | None = None,
    ) -> None:
        super().__init__(name or term.name)
        self.term, self.encoder = term, encoder
        self.columns = tuple(term.columns)
        ends = {"terminated", "truncated"} & set(self.columns)
        self.episodic = bool(ends) if episodic is None else bool(episodic)
        forgets = isinstance(term, OnlineRedistribution) or callable(getattr(term, "forget", None))
        if self.episodic and not forgets:
            raise ConfigurationError(
                f"{type(term).__name__} is episodic but has no forget(env): PrefetchEncoder "
                "could not drop an episode that lost a step; add forget(env) to the term, "
                "or pass episodic=False if a missing step does not corrupt its state"
            )
        self.withheld: set[Any] = set()  # envs whose open episode lost a step
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _lock=threading.Lock())

    def _compute(self, batch: Batch) -> RewardOutput:
        obs, actions = get_column(batch, "obs"), get_column(batch, "action")
        count = len(obs)
        run, kept = self.encoder.hold(np.asarray(obs), np.asarray(actions))
        try:
            errors = [None if m is None else f"encoder: {m}" for m in run.row_messages(count)]
            with self._lock:
                reasons = self._withhold(batch, errors) if self.episodic else errors
                fed = [i for i, reason in enumerate(reasons) if reason is None]
                inner: RewardOutput | None = self.term(take(batch, fed)) if fed else None
        finally:
            self.encoder.release(kept)
        own = Status.TIMEOUT if run.row_values is None and run.status == "timeout" else Status.ERROR
        status = [Status.OK if r is None else own if e else Status.ERROR
                  for r, e in zip(reasons, errors, strict=True)]  # fmt: skip
        return _merged(inner, fed, reasons, status)

    def _withhold(self, batch: Batch, errors: list[str | None]) -> list[str | None]:
        """Why each row is kept from the term: its own failure, or its episode's."""
        reasons = list(errors)
        ends = np.asarray(get_column(batch, "terminated"), dtype=bool) | np.asarray(
            get_column(batch, "truncated"), dtype=bool
        )
        envs = np.asarray(batch.get("env", np.zeros(len(errors), dtype=int))).tolist()
        for env in dict.fromkeys(envs):
            rows = [i for i, e in enumerate(envs) if e == env]
            cuts = [k + 1 for k, i in enumerate(rows) if ends[i]]
            bounds = zip([0, *cuts], [*cuts, len(rows)], strict=True)
            episodes = [rows[a:b] for a, b in bounds if a < b]
            for k, episode in enumerate(episodes):
                failed = [i for i in episode if errors[i] is not None]
                if k == 0 and env in self.withheld:
                    why = "an earlier step of this episode could not be encoded"
                elif failed:
                    why = f"row {failed[0]}, a step of this episode, could not be encoded"
                    if k == 0:
                        self._forget(env)
                else:
                    continue
                for i in episode:
                    reasons[i] = reasons[i] or f"{why}: its return is unknown, so it is not scored"
                if ends[episode[-1]]:
                    self.withheld.discard(env)
                else:
                    self.withheld.add(env)
        return reasons

    def _forget(self, env: Any) -> None:
        """Drop ``env``'s open episode from the wrapped term."""
        if isinstance(self.term, OnlineRedistribution):
            for table in (self.term.episodes, self.term.returns, self.term.last_prediction):
                table.pop(int(env), None)
        else:
            self.term.forget(env)

    def reset(self) -> None:
        """Forget which envs' episodes are withheld (and the term's open episodes, where it
        has ``reset``)."""
        with self._lock:
            self.withheld.clear()
            if callable(getattr(self.term, "reset", None)):
                self.term.reset()

    def update(self, batch: Batch) -> Mapping[str, float]:
        return cast(Mapping[str, float], self.term.update(batch))


def _merged(
    inner: RewardOutput | None, fed: list[int], reasons: list[str | None], codes: list[Status]
) -> RewardOutput:
    """The term's output on the rows it saw, and the other rows' failures, in row order."""
    count = len(reasons)
    total = np.full(count, np.nan)
    status = np.array(codes, dtype=np.int8)
    messages = list(reasons)
    terms: dict[str, np.ndarray] = {}
    if inner is not None:
        total[fed] = inner.total
        status[fed] = inner.status
        for j, i in enumerate(fed):
            messages[i] = inner.messages[j] if inner.messages is not None else None
        for name, values in inner.terms.items():
            terms[name] = np.full(count, np.nan)
            terms[name][fed] = values
    return RewardOutput(total, terms, status, tuple(messages))
