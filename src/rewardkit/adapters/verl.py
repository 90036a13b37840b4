"""verl: any rewardkit term as a ``compute_score`` function.

verl 0.9 scores through its reward loop
(``verl/experimental/reward_loop/reward_manager/``: ``naive``, ``dapo``,
``gdpo``, ``rate_limited``, ``remote``; the old ``batch`` manager is gone, and
``reward_manager.name=batch`` fails with ``Unknown reward manager: batch``).
Each manager calls ``compute_score(data_source=..., solution_str=...,
ground_truth=..., extra_info=...)`` once per sample, in a thread of its event
loop's executor (``remote``: in Ray worker processes), and takes a float or a
dict with a ``score`` key plus extra logging values; it keeps the keys of the
first sample, so every sample must return the same keys. Point verl at a
file that builds one:

.. code-block:: python

    # my_reward.py
    from rewardkit.adapters.verl import VerlReward
    from rewardkit.core import load_spec
    compute_score = VerlReward(load_spec("math_reward.toml"))

.. code-block:: bash

    python -m verl.trainer.main_ppo ... \\
        reward.custom_reward_function.path=my_reward.py \\
        reward.custom_reward_function.name=compute_score \\
        reward.reward_manager.name=naive   # or dapo, gdpo, rate_limited, remote

(verl 0.7-0.8 read the top-level ``custom_reward_function.*`` and
``reward_model.reward_manager`` keys; 0.9's trainer ignores them.) For group
terms, use :class:`rewardkit.adapters.verl_manager.RewardkitRewardManager`,
which scores the samples a worker holds together, grouped by verl's ``uid``.

verl needs a number for every sample and a finite value for every extra
key (GDPO's ``gdpo_reward_keys`` turn one NaN into NaN advantages for the
whole batch). A sample without a reward gets ``not_applicable_score`` and
``applicable = 0``; ``timeout`` and ``error`` flag why (their means are the
fractions that timed out or failed), and ``status`` names it (a string, which
verl's validation metrics skip). A part without a value gets
``not_applicable_score`` and ``<part>_applicable = 0``, so a part's mean over
the samples it scored is ``mean(<part>) / mean(<part>_applicable)`` when that
score is 0. ``acc`` is the score, or the part named by ``acc_part`` (DAPO's
``algorithm.filter_groups.metric=acc`` reads it per sample).

``ground_truth`` may be a string, a number, or a list, tuple or numpy array of
accepted answers (a parquet list column read by pandas arrives as a numpy
array). Every batch argument may be a list or a numpy object array. A
``#### N`` GSM8K answer at the end of a completion is read with or without a
GSM8K ``data_source`` (see ``MathVerifier``).

Timeouts: rewardkit bounds its own work (``MathVerifier(timeout=...)``, the
code sandbox's limits) and reports a timeout as a status. Keep that bound
below verl's: ``reward.timeout`` of the ``rate_limited`` manager (default
300 s, which scores a timed-out sample 0.0 with different extra keys), and the
SIGALRM ``compute_score_timeout`` of the legacy ``verl.workers`` naive
manager, which records a bare 0.0 and leaves the extra-info lists one short.

Example:
    >>> from rewardkit.verify import MathVerifier
    >>> compute_score = VerlReward(MathVerifier(timeout=5.0))
    >>> result = compute_score(data_source="openai/gsm8k", solution_str="48 + 24 = 72\\n#### 72",
    ...                        ground_truth="72", extra_info={"index": 0})
    >>> result["score"], result["acc"], result["status"], result["math_correct_applicable"]
    (1.0, 1.0, 'OK', 1.0)
    >>> compute_score("gsm8k", "no idea", "42")["score"]  # giving up scores 0
    0.0
    >>> compute_score("gsm8k", "no idea", None)["applicable"]  # no gold: skipped
    0.0
    >>> import numpy as np  # accepted answers, as pandas reads a parquet list column
    >>> compute_score("math", "\\\\boxed{0.5}", np.array(["1/2", "0.5"], dtype=object))["score"]
    1.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.core.output import Status
from rewardkit.core.term import Term, as_term

__all__ = ["VerlReward"]


#: the keys every result has; a part may not take one
RESERVED_KEYS = frozenset({"score", "acc", "applicable", "status", "timeout", "error"})


def _hashable(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _as_list(values: Any, n: int | None = None) -> list[Any]:
    """A verl batch argument (list, tuple or numpy object array) as a list; None → Nones."""
    if values is None:
        return [None] * (n or 0)
    if isinstance(values, np.ndarray):
        return values.tolist() if values.ndim else [values.item()]
    return list(values)


class VerlReward:
    """Wrap a term as verl's ``compute_score``.

    Args:
        term: reads ``completion`` (verl's ``solution_str``), ``answer``
            (``ground_truth``), ``data_source`` and the keys of ``extra_info``.
        not_applicable_score: the score verl sees for a sample (or a part)
            without a reward.
        acc_part: the part whose value is ``acc`` (default: the score).
    """

    def __init__(
        self, term: Term, not_applicable_score: float = 0.0, acc_part: str | None = None
    ) -> None:
        self.term = as_term(term)
        self.not_applicable_score = float(not_applicable_score)
        if not math.isfinite(self.not_applicable_score):
            raise ConfigurationError("not_applicable_score must be finite: verl logs it")
        self.acc_part = acc_part
        self.__name__ = self.term.name

    def __call__(
        self,
        data_source: Any = None,
        solution_str: Any = None,
        ground_truth: Any = None,
        extra_info: Any = None,
        **kwargs: Any,
    ) -> Any:
        if "solution_strs" in kwargs:  # verl's batch reward manager
            return self.batch(
                kwargs["data_sources"],
                kwargs["solution_strs"],
                kwargs["ground_truths"],
                kwargs.get("extra_infos"),
            )
        # the reward loop adds reward_router_address and reward_model_tokenizer: unused here
        return self.batch([data_source], [solution_str], [ground_truth], [extra_info])[0]

    def batch(
        self,
        data_sources: Any,
        solution_strs: Any,
        ground_truths: Any,
        extra_infos: Any = None,
        groups: Sequence[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Score many samples at once (one term call, so symbolic work runs in parallel).

        ``groups`` (verl's ``uid`` of each sample, say) becomes the ``group``
        column that group terms read.
        """
        completions = _as_list(solution_strs)
        n = len(completions)
        columns = {
            "data_source": _as_list(data_sources, n),
            "answer": _as_list(ground_truths, n),
            "extra_info": _as_list(extra_infos, n),
        }
        for key, values in columns.items():
            if len(values) != n:
                raise BatchError(f"verl passed {len(values)} {key} values for {n} solutions")
        infos = [info if isinstance(info, dict) else {} for info in columns.pop("extra_info")]
        batch: dict[str, list[Any]] = {"completion": completions, **columns}
        for key in sorted({k for info in infos for k in info} - set(batch)):
            batch[key] = [info.get(key) for info in infos]
        if groups is not None:
            if len(groups) != n:
                raise BatchError(f"{len(groups)} group ids for {n} solutions")
            index: dict[Any, int] = {}
            batch["group"] = [index.setdefault(_hashable(g), len(index)) for g in groups]
        out = self.term(batch)
        clash = sorted(set(out.terms) & RESERVED_KEYS)
        if clash:
            raise ConfigurationError(
                f"parts named {clash} would overwrite verl's own keys {sorted(RESERVED_KEYS)}; "
                "rename them (name=...)"
            )
        if self.acc_part is not None and self.acc_part not in out.terms:
            raise ConfigurationError(
                f"acc_part {self.acc_part!r} is not a part of {self.term.name!r}: "
                f"{sorted(out.terms)}"
            )
        return [self._result(out, i) for i in range(n)]

    def _result(self, out: Any, i: int) -> dict[str, Any]:
        fill = self.not_applicable_score
        applicable = out.status[i] == Status.OK
        score = float(out.total[i]) if applicable else fill
        if self.acc_part is None:
            acc = score
        else:
            acc = float(out.terms[self.acc_part][i])
            acc = acc if math.isfinite(acc) else fill
        result: dict[str, Any] = {
            "score": score,
            "acc": acc,
            "applicable": float(applicable),
            "timeout": float(out.status[i] == Status.TIMEOUT),
            "error": float(out.status[i] == Status.ERROR),
            "status": Status(out.status[i]).name,
        }
        for part, values in out.terms.items():
            value = float(values[i])
            result[part] = value if math.isfinite(value) else fill
            result[f"{part}_applicable"] = float(math.isfinite(value))
        return result
