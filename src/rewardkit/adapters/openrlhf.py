"""OpenRLHF: any rewardkit term as a remote reward function.

OpenRLHF 0.11 loads a Python file given as ``--reward.remote_url reward.py``
(the flag was ``--remote_rm_url`` up to v0.10.1) in each rollout actor
(``openrlhf/utils/agent.py``, ``SingleTurnAgentExecutor``) and calls its
module-level ``reward_func(queries, prompts, labels)`` through
``asyncio.to_thread``, one sample per call, all the samples of a rollout at
once. ``queries`` are prompt + response, decoded with
``skip_special_tokens=False``, so they end in the model's EOS token
(``</s>``, ``<|im_end|>``, ...). It returns ``{"rewards": ..., "scores": ...,
"extra_logs": {...}}``; OpenRLHF logs each ``extra_logs`` key as the mean over
samples (``train/<key>``), and needs the same keys from every sample. An
exception is logged at INFO and leaves the sample's reward ``None``, which
crashes training later, so this adapter never raises on a sample.
(v0.8-v0.9.0 called ``ray.remote(reward_func)`` with whole chunks: a plain
function, as :meth:`OpenRLHFReward.as_function` gives, works there too.)

This module is such a file: point OpenRLHF at it and name the spec in
``REWARDKIT_SPEC``::

    RM_FILE=$(python -c "import rewardkit.adapters.openrlhf as m; print(m.__file__)")
    REWARDKIT_SPEC=math_reward.toml python -m openrlhf.cli.train_ppo_ray ... \\
        --reward.remote_url "$RM_FILE" --data.label_key answer

or write your own file with ``reward_func = OpenRLHFReward(term).as_function()``.

Concurrent calls are scored together: the calls that arrive while a batch is
scored wait and are scored as the next batch (:class:`~rewardkit.core.coalesce.Coalescer`),
so 64 one-sample calls cost a few term calls, and the math verifier's
timeouts overlap instead of adding up.

Before scoring, special tokens are removed from both ends of the response
(the tokenizer's, when given, else a list of the common ones), so a correct
answer followed by ``<eos>`` is not scored as wrong. A query that does not
start with its prompt is not applicable (with a message): scoring the whole
query would score the prompt's own example answers. A sample without a
reward gets ``not_applicable_score``; ``extra_logs`` says so, per sample, in
``applicable``, ``timeout`` and ``error`` (their logged means are the
fractions), and each part is logged with ``not_applicable_score`` where it has
no value beside ``<part>/applicable`` (the part's mean over the samples it
scored is ``mean(<part>) / mean(<part>/applicable)`` when that score is 0).

Example:
    >>> from rewardkit.verify import exact_match
    >>> reward_func = OpenRLHFReward(exact_match(name="correct")).as_function()
    >>> out = reward_func(["Q: 2+2? A: 4<|im_end|>", "Q: 3+3? A: 7</s>"],
    ...                   ["Q: 2+2? A: ", "Q: 3+3? A: "], ["4", "6"])
    >>> out["rewards"].tolist(), sorted(out["extra_logs"])
    ([1.0, 0.0], ['applicable', 'correct', 'correct/applicable', 'error', 'timeout'])
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rewardkit.core.coalesce import Coalescer
from rewardkit.core.errors import ConfigurationError, RewardKitWarning
from rewardkit.core.output import RewardOutput, Status, failed_output
from rewardkit.core.queries import (
    COMMON_SPECIAL_TOKENS,
    STATUS_KEYS,
    mark_unsplit,
    openrlhf_response,
    query_batch,
    special_token_list,
    split_response,
)
from rewardkit.core.term import Term, as_term

__all__ = ["COMMON_SPECIAL_TOKENS", "OpenRLHFReward", "reward_func", "split_response"]

SPEC_VARIABLE = "REWARDKIT_SPEC"


#: ``info`` keys OpenRLHF sets itself; an ``extra_logs`` key with one of these names overwrites it
OPENRLHF_KEYS = frozenset({"reward", "score", "response_clip_ratio"})

Request = tuple[list[str], list[str], list[Any] | None]

#: seconds the scoring thread yields before it takes a batch, so the callers' threads that
#: wait for the GIL can add theirs (1.5x the samples per second at 64 calls on 2 cores)
COALESCE_LINGER = 0.0005


class OpenRLHFReward:
    """Wrap a term as OpenRLHF's ``reward_func``.

    The term reads ``completion`` (the response), ``prompt``, ``answer``
    (OpenRLHF's ``labels``) and ``query``.

    Args:
        term: the reward term.
        not_applicable_score: the reward of a sample without one.
        special_tokens: strings removed from responses, or a Hugging Face
            tokenizer (its ``all_special_tokens``). Default:
            :data:`COMMON_SPECIAL_TOKENS`.
        coalesce: score concurrent calls together (default True).
        max_batch: the most samples scored in one term call when coalescing.
    """

    def __init__(
        self,
        term: Term,
        not_applicable_score: float = 0.0,
        special_tokens: Sequence[str] | Any = COMMON_SPECIAL_TOKENS,
        coalesce: bool = True,
        max_batch: int = 256,
    ) -> None:
        self.term = as_term(term)
        self.not_applicable_score = float(not_applicable_score)
        if not np.isfinite(self.not_applicable_score):
            raise ConfigurationError("not_applicable_score must be finite: OpenRLHF trains on it")
        self.special_tokens = special_token_list(special_tokens)
        parts = getattr(self.term, "parts", ())
        names = {p.name for p in parts} if parts else {self.term.name}
        clash = sorted(names & (OPENRLHF_KEYS | set(STATUS_KEYS)))
        if clash:
            raise ConfigurationError(
                f"terms named {clash} would overwrite OpenRLHF's or rewardkit's own log keys "
                f"{sorted(OPENRLHF_KEYS | set(STATUS_KEYS))}; rename them (name=...)"
            )
        self.__name__ = self.term.name
        self._coalescer: Coalescer[Request, dict[str, Any]] | None = (
            Coalescer(self._score_requests, max_batch=max_batch, linger=COALESCE_LINGER)
            if coalesce
            else None
        )
        self._log_keys: tuple[str, ...] | None = None

    def __call__(
        self,
        queries: Sequence[str],
        prompts: Sequence[str],
        labels: Sequence[Any] | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        queries, prompts = list(queries), list(prompts)
        labels = None if labels is None else list(labels)
        if len(queries) != len(prompts) or (labels is not None and len(labels) != len(queries)):
            raise ConfigurationError(
                f"{len(queries)} queries, {len(prompts)} prompts and "
                f"{'no' if labels is None else len(labels)} labels: one of each per sample"
            )
        request: Request = (queries, prompts, labels)
        if self._coalescer is None:
            return self._score_requests([request])[0]
        return self._coalescer(request)

    def _score_requests(self, requests: list[Request]) -> list[dict[str, Any]]:
        """Score several calls' samples in one term call; split the results back."""
        queries = [q for r in requests for q in r[0]]
        prompts = [p for r in requests for p in r[1]]
        labels = [x for r in requests for x in (r[2] if r[2] is not None else [None] * len(r[0]))]
        out = self._output(queries, prompts, labels, warn=len(requests) == 1)
        if len(requests) > 1 and np.all(out.status == Status.ERROR):
            # one request's bad sample fails the merged call: score each on its own, so the
            # failure stays with the sample that caused it
            return [result for request in requests for result in self._score_requests([request])]
        response = openrlhf_response(out, self.not_applicable_score, self._log_keys_for(out))
        results, start = [], 0
        for request in requests:
            stop = start + len(request[0])
            piece = slice(start, stop)
            results.append(
                {
                    "rewards": _tensor(response["rewards"][piece]),
                    "scores": _tensor(response["scores"][piece]),
                    "extra_logs": {k: _tensor(v[piece]) for k, v in response["extra_logs"].items()},
                }
            )
            start = stop
        return results

    def _output(
        self, queries: list[str], prompts: list[str], labels: list[Any], warn: bool = True
    ) -> RewardOutput:
        """The term's output; a failure of the whole call is an error per sample, not a raise."""
        try:
            batch, responses = query_batch(queries, prompts, labels, self.special_tokens)
            return mark_unsplit(self.term(batch), responses)
        except Exception as exc:  # OpenRLHF would train on None: report it as an error
            message = f"{type(exc).__name__}: {exc}"
            if not warn:
                return failed_output(len(queries), Status.ERROR, message)
            warnings.warn(
                f"{self.__name__}: scoring {len(queries)} samples failed ({message}); they "
                f"get not_applicable_score={self.not_applicable_score} and error=1",
                RewardKitWarning,
                stacklevel=2,
            )
            return failed_output(len(queries), Status.ERROR, message)

    def _log_keys_for(self, out: RewardOutput) -> tuple[str, ...]:
        """The same keys from call to call: those of the first output that scored."""
        if self._log_keys is None and out.terms and not np.all(out.status == Status.ERROR):
            self._log_keys = tuple(out.terms)
        return self._log_keys or ()

    def as_function(self) -> Callable[..., dict[str, Any]]:
        """A plain function doing the same, for ``ray.remote`` (OpenRLHF v0.8-v0.9.0)."""

        def reward_func(
            queries: Sequence[str],
            prompts: Sequence[str],
            labels: Sequence[Any] | None = None,
            **kwargs: Any,
        ) -> dict[str, Any]:
            return self(queries, prompts, labels, **kwargs)

        reward_func.__name__ = reward_func.__qualname__ = "reward_func"
        return reward_func


_loaded: OpenRLHFReward | None = None
_load_lock = threading.Lock()


def reward_func(
    queries: Sequence[str],
    prompts: Sequence[str],
    labels: Sequence[Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """OpenRLHF's entry point when this file is the remote reward: the reward spec
    named by the ``REWARDKIT_SPEC`` environment variable, loaded on first call."""
    global _loaded
    with _load_lock:  # OpenRLHF's first calls arrive from many threads at once
        if _loaded is None:
            _loaded = _load_from_environment()
    return _loaded(queries, prompts, labels, **kwargs)


def _load_from_environment() -> OpenRLHFReward:
    path = os.environ.get(SPEC_VARIABLE)
    if not path:
        raise ConfigurationError(
            f"set {SPEC_VARIABLE} to a reward spec file (TOML/YAML/JSON) to use "
            "rewardkit.adapters.openrlhf as OpenRLHF's remote reward"
        )
    from rewardkit.core.spec import load_spec

    return OpenRLHFReward(load_spec(path))


def _tensor(values: np.ndarray) -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is an OpenRLHF dependency
        return values.tolist()
    return torch.tensor(values, dtype=torch.float32)
