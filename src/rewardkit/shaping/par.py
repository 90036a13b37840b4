"""Preference As Reward (PAR): a bounded, centred reward from any term.

PAR (Fu et al. 2025, "Reward Shaping to Mitigate Reward Hacking in RLHF")
replaces a reward r with the preference the reward itself expresses over
reference completions of the same prompt:

    r'(x, y) = (1/M) Σ_m σ(r(x, y) − r(x, y_ref,m))

It is bounded in (0, 1), rises fast near the reference and saturates, which
the paper finds keeps a policy from hacking a learned reward; one reference
per prompt suffices there. Adding any per-prompt constant to r leaves r'
unchanged.

:func:`preference_as_reward` wraps any term: the reference completions come
from a column (one string, or a list of M strings, per sample) and are scored
by the same term with ``completion`` replaced; or the reference rewards come
precomputed in a column.

Example:
    >>> from rewardkit.core import column
    >>> reward = preference_as_reward(column("score"), reference_reward="ref_score")
    >>> reward({"score": [1.0, 0.0], "ref_score": [1.0, 2.0]}).total.round(3)
    array([0.5  , 0.119])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, batch_size, get_column
from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.core.output import RewardOutput, Status
from rewardkit.core.term import RewardTerm, Term, as_term

__all__ = ["PreferenceAsReward", "par_transform", "preference_as_reward"]


def par_transform(r: Any, r_ref: Any) -> np.ndarray:
    """(1/M) Σ_m σ(r − r_ref[:, m]) for r of shape (N,) and r_ref of shape (N, M).

    NaN references are left out of the mean; a row without any is NaN.

    Example:
        >>> par_transform([0.0, 1.0], [[0.0, 2.0], [1.0, np.nan]]).round(4)
        array([0.3096, 0.5   ])
    """
    r = np.asarray(r, dtype=np.float64)
    r_ref = np.asarray(r_ref, dtype=np.float64)
    if r_ref.ndim == 1:
        r_ref = r_ref[:, None]
    if r_ref.shape[0] != r.shape[0]:
        raise BatchError(f"{r.shape[0]} rewards but {r_ref.shape[0]} rows of reference rewards")
    with np.errstate(over="ignore", invalid="ignore"):
        preference = 1.0 / (1.0 + np.exp(-(r[:, None] - r_ref)))
        counted = ~np.isnan(preference)
        total = np.where(counted, preference, 0.0).sum(axis=1)
        return np.where(counted.any(axis=1), total / np.maximum(counted.sum(axis=1), 1), np.nan)


class PreferenceAsReward(RewardTerm):
    """PAR around a term (see the module docs).

    Args:
        term: the reward to reshape (a learned reward model, or any term).
        reference: column of reference completions (a string or a list per sample).
        reference_reward: column of precomputed reference rewards (a number or a
            list per sample); give this or ``reference``.
        name: the term's name.
    """

    def __init__(
        self,
        term: Term,
        reference: str | None = "reference",
        reference_reward: str | None = None,
        name: str = "par",
    ) -> None:
        super().__init__(name)
        if (reference is None) == (reference_reward is None):
            raise ConfigurationError("give exactly one of reference= or reference_reward=")
        self.term = as_term(term)
        self.reference = reference
        self.reference_reward = reference_reward
        self.columns = (*getattr(self.term, "columns", ()), reference or reference_reward or "")

    def _reference_rewards(self, batch: Batch, n: int) -> np.ndarray:
        if self.reference_reward is not None:
            rows = [_as_list(v) for v in get_column(batch, self.reference_reward)]
            width = max((len(row) for row in rows), default=1)
            table = np.full((n, max(width, 1)), np.nan)
            for i, row in enumerate(rows):
                table[i, : len(row)] = [np.nan if v is None else float(v) for v in row]
            return table
        assert self.reference is not None
        rows = [_as_list(v) for v in get_column(batch, self.reference)]
        width = max((len(row) for row in rows), default=1)
        table = np.full((n, max(width, 1)), np.nan)
        for m in range(width):  # one scoring pass per reference slot, all samples at once
            owners = [i for i, row in enumerate(rows) if len(row) > m]
            sub = {
                k: [v[i] for i in owners]
                for k, v in batch.items()
                if _is_column(v, n) and not k.startswith(_OF_THE_COMPLETION)
            }
            sub["completion"] = [rows[i][m] for i in owners]
            out = self.term(sub)
            table[owners, m] = np.where(out.ok, out.total, np.nan)
        return table

    def _compute(self, batch: Batch) -> RewardOutput:
        n = batch_size(batch)
        out = self.term(batch)
        r = np.where(out.ok, out.total, np.nan)
        r_ref = self._reference_rewards(batch, n)
        total = par_transform(r, r_ref)
        status = np.where(np.isnan(total) & out.ok, Status.NOT_APPLICABLE, out.status)
        messages = list(out.messages or (None,) * n)
        for i in np.flatnonzero(np.isnan(total) & out.ok):
            messages[i] = "no reference reward"
        with np.errstate(invalid="ignore"):
            ref_mean = np.nanmean(
                np.where(np.isnan(r_ref).all(axis=1)[:, None], 0.0, r_ref), axis=1
            )
        terms = {
            self.name: total,
            self.term.name: out.total,
            f"{self.term.name}/reference": np.where(np.isnan(r_ref).all(axis=1), np.nan, ref_mean),
        }
        return RewardOutput(total, terms, status.astype(np.int8), tuple(messages))

    def update(self, batch: Batch) -> dict[str, float]:
        return dict(self.term.update(batch) or {})


#: columns that describe the policy's completion, not the prompt: not carried to a reference
_OF_THE_COMPLETION = ("completion", "logprobs")


def _as_list(value: Any) -> list[Any]:
    """A sample's references: one string or chat (a list of message dicts), or a list of them."""
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray):
        return [value]
    if len(value) and isinstance(value[0], Mapping):
        return [value]  # one chat-format reference, not one reference per message
    return list(value)


def _is_column(values: Any, n: int) -> bool:
    return not isinstance(values, str | bytes) and hasattr(values, "__len__") and len(values) == n


def preference_as_reward(
    term: Term,
    reference: str | None = None,
    reference_reward: str | None = None,
    name: str = "par",
) -> PreferenceAsReward:
    """PAR around ``term``, from reference completions or precomputed reference rewards.

    With neither column named, reference completions are read from ``reference``.
    """
    if reference is None and reference_reward is None:
        reference = "reference"
    return PreferenceAsReward(term, reference, reference_reward, name)
