"""``check_reward``: Gymnasium's env checker, for rewards.

It runs a term on a batch and raises :class:`RewardCheckError` on hard
violations (the output cannot be used), and warns with
:class:`RewardCheckWarning` on soft ones (it can be used, but probably
should not be).

Hard: the term raises a rewardkit error or returns something that is not a
``RewardOutput``; wrong length; ±inf; NaN on a sample whose status is OK; no
sample with a reward at all.
Soft: NaN ("not applicable") from a term declared ``abstains=False``; a
constant reward; zero variance within
most groups (no GRPO signal); a scale far from 1; most samples with no answer
found (a verifier scores those 0, as a completion that gives up, so a format
mismatch looks like a policy that never answers).

Example:
    >>> from rewardkit.core import term
    >>> @term
    ... def correct(completion, answer):
    ...     return [float(c == a) for c, a in zip(completion, answer)]
    >>> report = check_reward(correct, {"completion": ["4", "5"], "answer": ["4", "4"]})
    >>> report.passed, report.warnings
    (True, [])
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, batch_size
from rewardkit.core.errors import RewardCheckError, RewardCheckWarning, RewardKitError
from rewardkit.core.output import RewardOutput, Status, format_table
from rewardkit.core.term import Term, as_term
from rewardkit.credit.group import group_statistics

__all__ = ["CheckReport", "check_reward"]

#: RMS reward outside [SMALL_SCALE, LARGE_SCALE] draws a scale warning
SMALL_SCALE = 1e-2
LARGE_SCALE = 1e2
#: share of groups without variance above which a warning is drawn
ZERO_VARIANCE_SHARE = 0.5
#: share of samples whose answer was not found above which a warning is drawn
NO_ANSWER_SHARE = 0.5


@dataclass
class CheckReport:
    """What ``check_reward`` saw.

    Attributes:
        name: the term's name.
        output: the term's output on the batch.
        warnings: the soft problems found (also emitted as warnings).
        passed: always True on a returned report (hard problems raise).
    """

    name: str
    output: RewardOutput
    warnings: list[str] = field(default_factory=list)
    passed: bool = True

    def table(self) -> str:
        """Per-term statistics and the status counts, as text."""
        rows = []
        for term_name, stats in self.output.summary().items():
            rows.append(
                [term_name]
                + [f"{stats[k]:.4g}" for k in ("mean", "std", "min", "max")]
                + [f"{stats['frac_nan']:.0%}"]
            )
        counts = self.output.status_counts()
        status_line = "status: " + ", ".join(f"{k.lower()}={v}" for k, v in counts.items())
        return "\n".join(
            [format_table(["term", "mean", "std", "min", "max", "n/a"], rows), status_line]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "name": self.name,
            "passed": self.passed,
            "n": len(self.output),
            "terms": self.output.summary(),
            "status": self.output.status_counts(),
            "warnings": list(self.warnings),
        }


def _hard_checks(name: str, output: Any, n: int) -> RewardOutput:
    if not isinstance(output, RewardOutput):
        raise RewardCheckError(
            f"term {name!r} returned {type(output).__name__}, expected a RewardOutput; "
            "derive from RewardTerm or decorate the function with @term"
        )
    if output.total.shape != (n,):
        raise RewardCheckError(
            f"term {name!r} returned shape {output.total.shape}, expected ({n},)"
        )
    if output.total.dtype != np.float64:
        raise RewardCheckError(
            f"term {name!r} returned dtype {output.total.dtype}, expected float64"
        )
    for key, values in {"total": output.total, **output.terms}.items():
        if np.any(np.isinf(values)):
            bad = np.flatnonzero(np.isinf(values))[:5].tolist()
            raise RewardCheckError(
                f"term {name!r}: {key} is ±inf at samples {bad}; clip the reward or mark those "
                "samples not applicable"
            )
    unexplained = np.isnan(output.total) & (output.status == Status.OK)
    if np.any(unexplained):
        bad = np.flatnonzero(unexplained)[:5].tolist()
        raise RewardCheckError(
            f"term {name!r}: NaN reward with status OK at samples {bad}; set the status "
            "(NOT_APPLICABLE, TIMEOUT or ERROR) so a missing reward is not mistaken for a score"
        )
    return output


def _soft_checks(
    output: RewardOutput, batch: Batch, group_column: str, abstains: bool = True
) -> list[str]:
    found: list[str] = []
    if not abstains:
        unexpected = np.flatnonzero(
            np.isnan(output.total) & (output.status == Status.NOT_APPLICABLE)
        )
        if unexpected.size:
            found.append(
                f"{unexpected.size} samples are NaN (not applicable, e.g. samples "
                f"{unexpected[:5].tolist()}) from a term declared never to abstain; "
                "a 0/0 or a missing value inside the term?"
            )
    values = output.total[output.ok]
    if values.size > 1 and np.all(values == values[0]):
        found.append(f"the reward is constant ({values[0]:g}) across {values.size} samples")
    else:
        rms = float(np.sqrt(np.mean(values * values)))
        if rms > LARGE_SCALE or 0 < rms < SMALL_SCALE:
            found.append(
                f"reward scale is far from 1 (RMS {rms:.3g}); consider affine() or a normalizer"
            )
    no_answer = sum(1 for m in output.messages or () if m and m.startswith("no answer"))
    if no_answer > NO_ANSWER_SHARE * len(output):
        found.append(
            f"{no_answer} of {len(output)} samples have no answer (scored as given up); does "
            "the completion format match what the verifier reads?"
        )
    if group_column in batch:
        stats = group_statistics(output.total, batch[group_column])
        if stats.n_groups > 1 and stats.frac_zero_variance > ZERO_VARIANCE_SHARE:
            found.append(
                f"{stats.frac_zero_variance:.0%} of {stats.n_groups} groups have no reward "
                "variance; GRPO-style advantages are 0 there"
            )
    return found


def check_reward(
    reward: Term | Callable[..., Any],
    batch: Batch,
    *,
    group_column: str = "group",
    warn: bool = True,
) -> CheckReport:
    """Run ``reward`` on ``batch`` and check its output.

    Args:
        reward: a term, or a plain function of columns (wrapped with ``@term``).
        batch: the columnar batch.
        group_column: column holding group ids, for the group-variance check.
        warn: emit soft problems as :class:`RewardCheckWarning` too.

    Raises:
        RewardCheckError: a hard violation, with what to change.
    """
    n = batch_size(batch)
    term = as_term(reward)
    try:
        raw = term(batch)
    except RewardKitError:
        raise
    except Exception as exc:
        raise RewardCheckError(f"term {term.name!r} raised {type(exc).__name__}: {exc}") from exc
    output = _hard_checks(term.name, raw, n)
    if n and not np.any(output.ok):
        counts = ", ".join(f"{k.lower()}={v}" for k, v in output.status_counts().items() if v)
        raise RewardCheckError(
            f"term {term.name!r}: no sample has a reward ({counts}); a training step would "
            "learn nothing from this batch"
        )
    found = _soft_checks(output, batch, group_column, getattr(term, "abstains", True))
    if warn:
        for message in found:
            warnings.warn(f"{term.name}: {message}", RewardCheckWarning, stacklevel=2)
    return CheckReport(term.name, output, found)
