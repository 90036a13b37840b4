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

verl needs a number for every sample, so a sample without a reward
(timeout, unparseable) gets ``not_applicable_score`` and ``applicable = 0``
in the extra info, and its ``status`` names why; mask on ``applicable`` to
keep it out of your advantages.

Example:
    >>> from rewardkit.verify import MathVerifier
    >>> compute_score = VerlReward(MathVerifier(timeout=5.0))
    >>> compute_score("gsm8k", r"... \\boxed{42}", "42")
    {'score': 1.0, 'applicable': 1.0, 'status': 'OK', 'math_correct': 1.0}
    >>> compute_score("gsm8k", "no idea", "42")["score"]  # giving up scores 0
    0.0
    >>> compute_score("gsm8k", "no idea", None)["applicable"]  # no gold: skipped
    0.0
"""

from __future__ import annotations

import math
from typing import Any

from rewardkit.core.output import Status
from rewardkit.core.term import Term, as_term

__all__ = ["VerlReward"]


class VerlReward:
    """Wrap a term as verl's ``compute_score``.

    Args:
        term: reads ``completion`` (verl's ``solution_str``), ``answer``
            (``ground_truth``), ``data_source`` and the keys of ``extra_info``.
        not_applicable_score: the score verl sees for a sample without a reward.
    """

    def __init__(self, term: Term, not_applicable_score: float = 0.0) -> None:
        self.term = as_term(term)
        self.not_applicable_score = float(not_applicable_score)
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
        return self.batch([data_source], [solution_str], [ground_truth], [extra_info])[0]

    def batch(
        self,
        data_sources: list[Any],
        solution_strs: list[Any],
        ground_truths: list[Any],
        extra_infos: list[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Score many samples at once (one term call, so symbolic work runs in parallel)."""
        n = len(solution_strs)
        infos = [info if isinstance(info, dict) else {} for info in (extra_infos or [None] * n)]
        batch: dict[str, list[Any]] = {
            "completion": list(solution_strs),
            "answer": list(ground_truths),
            "data_source": list(data_sources),
        }
        for key in sorted({k for info in infos for k in info} - set(batch)):
            batch[key] = [info.get(key) for info in infos]
        out = self.term(batch)
        results = []
        for i in range(n):
            applicable = out.status[i] == Status.OK
            result: dict[str, Any] = {
                "score": float(out.total[i]) if applicable else self.not_applicable_score,
                "applicable": float(applicable),
                "status": Status(out.status[i]).name,
            }
            for part, values in out.terms.items():
                value = float(values[i])
                result[part] = value if not math.isnan(value) else float("nan")
            results.append(result)
        return results
