"""Hugging Face TRL: any rewardkit term as a ``reward_funcs`` entry.

TRL's ``GRPOTrainer`` calls each reward function as
``f(prompts=..., completions=..., completion_ids=..., **dataset_columns)``
and reads ``f.__name__`` for its logs. It accepts ``None`` for a sample the
function does not apply to, which is how rewardkit's not-applicable samples
(timeouts, unparseable answers) reach it.

Example:
    >>> from rewardkit.verify import exact_match
    >>> reward_fn = TRLReward(exact_match(name="correct"))
    >>> reward_fn.__name__
    'correct'
    >>> reward_fn(prompts=["2+2?", "3+3?"], completions=["4", "7"], answer=["4", None])
    [1.0, None]
"""

from __future__ import annotations

import math
from typing import Any

from rewardkit.core.term import Term, as_term

__all__ = ["TRLReward"]


class TRLReward:
    """Wrap a term as a picklable TRL reward function.

    Args:
        term: the reward term. It reads ``completion`` (TRL's ``completions``),
            ``prompt`` (``prompts``) and any dataset column by name.
    """

    def __init__(self, term: Term) -> None:
        self.term = as_term(term)
        self.__name__ = self.term.name

    def __call__(
        self, prompts: list[Any], completions: list[Any], **columns: Any
    ) -> list[float | None]:
        batch = {"prompt": prompts, "completion": completions}
        batch.update({k: v for k, v in columns.items() if _is_column(v, len(completions))})
        total = self.term(batch).total
        return [None if math.isnan(v) else float(v) for v in total]


def _is_column(values: Any, n: int) -> bool:
    """TRL also passes non-column keywords (e.g. ``trainer_state``); keep per-sample lists."""
    return isinstance(values, list | tuple) and len(values) == n
