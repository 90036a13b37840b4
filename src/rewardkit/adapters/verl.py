"""verl: any rewardkit term as a ``compute_score`` function.

verl's reward manager calls ``compute_score(data_source, solution_str,
ground_truth, extra_info)`` per sample (or, in its batch manager, the same
names in the plural with lists) and accepts a float or a dict with a
``score`` key plus extra logging values. Point verl at a file that builds
one:

.. code-block:: python

    # my_reward.py, used as custom_reward_function.path=my_reward.py name=compute_score
    from rewardkit.adapters.verl import VerlReward
    from rewardkit.core import load_spec
    compute_score = VerlReward(load_spec("math_reward.toml"))

verl needs a number for every sample and a finite value for every extra
key, the same keys for every sample (its reward loop takes the keys of the
first sample). A sample without a reward (timeout, unparseable) gets
``not_applicable_score`` and ``applicable = 0``, and its ``status`` names
why (a string, which verl's validation metrics skip); a part without a value
gets ``not_applicable_score`` and ``<part>_applicable = 0``. ``acc`` is the
score, or the part named by ``acc_part`` (DAPO's
``algorithm.filter_groups.metric=acc`` reads it per sample). Mask on
``applicable`` to keep a sample out of your advantages.

Every batch argument may be a list or a numpy object array (verl's batch
manager passes ``data.non_tensor_batch[...]`` arrays). Rows whose
``data_source`` is GSM8K take its ``#### N`` answer (see ``MathVerifier``).

Example:
    >>> from rewardkit.verify import MathVerifier
    >>> compute_score = VerlReward(MathVerifier(timeout=5.0))
    >>> result = compute_score("openai/gsm8k", "48 + 24 = 72\\n#### 72", "72")
    >>> result["score"], result["acc"], result["status"], result["math_correct_applicable"]
    (1.0, 1.0, 'OK', 1.0)
    >>> compute_score("gsm8k", "no idea", "42")["score"]  # giving up scores 0
    0.0
    >>> compute_score("gsm8k", "no idea", None)["applicable"]  # no gold: skipped
    0.0
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rewardkit.core.errors import BatchError, CompositionError
from rewardkit.core.output import Status
from rewardkit.core.term import Term, as_term

__all__ = ["VerlReward"]


#: the keys every result has; a part may not take one
RESERVED_KEYS = frozenset({"score", "acc", "applicable", "status"})


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
            raise CompositionError("not_applicable_score must be finite: verl logs it")
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
    ) -> list[dict[str, Any]]:
        """Score many samples at once (one term call, so symbolic work runs in parallel)."""
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
        out = self.term(batch)
        clash = sorted(set(out.terms) & RESERVED_KEYS)
        if clash:
            raise CompositionError(
                f"parts named {clash} would overwrite verl's own keys {sorted(RESERVED_KEYS)}; "
                "rename them (name=...)"
            )
        if self.acc_part is not None and self.acc_part not in out.terms:
            raise CompositionError(
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
            "status": Status(out.status[i]).name,
        }
        for part, values in out.terms.items():
            value = float(values[i])
            result[part] = value if math.isfinite(value) else fill
            result[f"{part}_applicable"] = float(math.isfinite(value))
        return result
