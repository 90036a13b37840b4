"""``fallback``: a cheap reward first, an expensive one only where the first has no verdict.

verifiers runs math-verify first and calls its LLM judge only as a fallback;
a judge call costs seconds and money, a verifier microseconds. A
:class:`Fallback` scores the whole batch with ``primary`` and sends only the
rows that need it to ``backup``:

- ``when="abstains"`` (default): rows where ``primary``'s status is not OK
  (no answer it can parse, a timeout, an error);
- ``when="fails"``: those, and rows where ``primary`` scored below
  ``threshold`` (a judge that may rescue a verifier's false negatives). The
  decision is then the backup's: where it fails, the row's status is its
  failure, not the primary's low score.

Each row's value, status and message come from the part that decided it.
The breakdown holds both parts (NaN where a part was not used) and
``used_backup`` (1.0 where ``backup`` decided). A group-level ``backup`` (a
pairwise or group judge) sees only the rows sent to it, so use a pointwise
one.

Example:
    >>> from rewardkit.core.term import term
    >>> @term
    ... def exact(completion, answer):
    ...     return [None if not c else float(c == a) for c, a in zip(completion, answer)]
    >>> @term
    ... def lenient(completion, answer):
    ...     return [0.5] * len(completion)
    >>> out = fallback(exact, lenient)({"completion": ["4", "", "5"], "answer": ["4", "4", "4"]})
    >>> out.total, out.terms["used_backup"]
    (array([1. , 0.5, 0. ]), array([0., 1., 0.]))
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from rewardkit.core.batch import Batch, batch_size, take
from rewardkit.core.compose import Composite, StatusArray
from rewardkit.core.errors import CompositionError
from rewardkit.core.output import FloatArray, RewardOutput, Status

__all__ = ["Fallback", "fallback"]


class Fallback(Composite):
    """``primary`` where it decides, ``backup`` elsewhere (see the module doc)."""

    diagnostics = ("used_backup",)

    def __init__(self, primary: Any, backup: Any, when: str, threshold: float, name: str) -> None:
        super().__init__([primary, backup], name)
        if when not in ("abstains", "fails"):
            raise CompositionError(f"when must be 'abstains' or 'fails', got {when!r}")
        if not math.isfinite(threshold):
            raise CompositionError(f"threshold must be a finite number, got {threshold!r}")
        self.when, self.threshold = when, float(threshold)

    def __call__(self, batch: Batch) -> RewardOutput:
        primary, backup = self.parts
        n = batch_size(batch)
        first = primary(batch)
        need = ~first.ok
        if self.when == "fails":
            need |= first.ok & (np.nan_to_num(first.total, nan=-np.inf) < self.threshold)
        total = first.total.copy()
        status = first.status.copy()
        messages: list[str | None] = list(first.messages) if first.messages else [None] * n
        second_total = np.full(n, np.nan)
        terms: dict[str, FloatArray] = {primary.name: first.total}
        rows = np.flatnonzero(need)
        if rows.size:
            second = backup(take(batch, rows))
            second_total[rows] = second.total
            total[rows] = second.total
            status[rows] = second.status
            for k, row in enumerate(rows):
                messages[row] = second.messages[k] if second.messages else None
            for key, values in second.terms.items():
                if key != backup.name:
                    full = np.full(n, np.nan)
                    full[rows] = values
                    terms[f"{backup.name}/{key}"] = full
        terms[backup.name] = second_total
        terms["used_backup"] = need.astype(np.float64)
        # a NaN is never a score: where the deciding part left one with status OK, say so
        silent = np.flatnonzero(np.isnan(total) & (status == Status.OK))
        for row in silent:
            status[row] = Status.ERROR
            messages[row] = messages[row] or "no reward: the deciding part returned NaN as OK"
        return RewardOutput(total, terms, status.astype(np.int8), tuple(messages))

    def _combine(
        self, outputs: list[RewardOutput], batch: Batch
    ) -> tuple[FloatArray, StatusArray, dict[str, FloatArray]]:  # pragma: no cover
        raise NotImplementedError("Fallback overrides __call__ to score only the rows it needs")


def fallback(
    primary: Any,
    backup: Any,
    *,
    when: Literal["abstains", "fails"] = "abstains",
    threshold: float = 0.5,
    name: str = "fallback",
) -> Composite:
    """``primary`` where it decides, ``backup`` only for the rows it does not.

    Args:
        primary: the cheap term (a verifier).
        backup: the expensive term (a judge), called on the needed rows only.
        when: "abstains" sends rows whose primary status is not OK; "fails"
            also sends rows primary scored below ``threshold``.
        threshold: the passing score for ``when="fails"``.
        name: the composite's name.
    """
    return Fallback(primary, backup, when, threshold, name)
