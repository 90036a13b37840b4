"""Audits of LLM judges: position bias, agreement with a verifier, self-consistency.

A judge is a reward like any other, so :func:`rewardkit.audit.probe` runs the
master-key battery of "One Token to Fool LLM-as-a-Judge" (Zhao et al. 2025)
against it (its timeouts and errors are counted apart, never as passes).
This module adds the three failure modes particular to judges:

- :func:`position_bias`: pairwise judges prefer a position ("Judging
  LLM-as-a-Judge with MT-Bench and Chatbot Arena", Zheng et al. 2023; "Large
  Language Models are not Fair Evaluators", Wang et al. 2023). Each pair is
  judged in both orders: how often the first position wins, how often the
  two orders name different winners, and the accuracy of one order against
  the swap-averaged verdict (:func:`rewardkit.judge.win_rate_from_orders`).
- :func:`verifier_agreement`: where a verifier (or labels) exists, the
  judge's accuracy, Cohen's kappa and confusion counts against it, on the
  rows both scored.
- :func:`self_consistency`: with ``samples > 1`` the judge answers each
  row several times; the spread of those answers ("Self-Consistency Improves
  Chain of Thought Reasoning", Wang et al. 2023, for the sampling; G-Eval,
  Liu et al. 2023, for judges) is how much a reward moves on a re-roll.

Every audit counts the rows the judge failed on (NaN; status timeout or
error) apart from its figures, and returns a frozen report with ``table()``
and ``to_dict()``. The judges here are any terms: the examples use plain
functions in place of a model.

Example:
    >>> from rewardkit.core.term import term
    >>> @term
    ... def lenient(completion):  # passes anything that mentions a number
    ...     return [float(any(ch.isdigit() for ch in c)) for c in completion]
    >>> report = verifier_agreement(lenient, [1, 0, 0, None],
    ...                             {"completion": ["4", "5", "no idea", "7"]})
    >>> report.accuracy, report.coverage, report.false_positives
    (0.6666666666666666, 0.75, 1)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.batch import Batch, batch_size
from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.core.output import Status, format_table

__all__ = [
    "AgreementReport",
    "PositionBiasReport",
    "SelfConsistencyReport",
    "position_bias",
    "self_consistency",
    "verifier_agreement",
]

Pair = tuple[Any, Any, Any]


def _scored(out: Any, n: int, what: str) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """A term's totals and the mask of rows it scored (status ok and a number)."""
    total = np.asarray(getattr(out, "total", out), dtype=np.float64)
    if total.shape != (n,):
        raise BatchError(f"{what} returned {total.shape} values for {n} rows")
    status = getattr(out, "status", None)
    ok = ~np.isnan(total)
    if status is not None:
        ok &= np.asarray(status) == Status.OK
    return total, ok


def _reasons(out: Any, failed: npt.NDArray[np.bool_], limit: int = 5) -> dict[str, int]:
    """The most common messages of the failed rows (first 100 characters), with counts."""
    messages = getattr(out, "messages", None) or (None,) * len(failed)
    found = Counter(
        " ".join(str(m or "no message").split())[:100]
        for m, bad in zip(messages, failed, strict=True)
        if bad
    )
    return dict(found.most_common(limit))


def _reason_rows(reasons: Mapping[str, int]) -> list[list[str]]:
    return [["failure", f"{count} x {reason}"] for reason, count in reasons.items()]


def _rate(count: float, total: int) -> float:
    return float(count / total) if total else math.nan


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1%}"


# -- position bias ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PositionBiasReport:
    """What the order of two responses decides in a pairwise judge.

    Attributes:
        pairs: pairs given.
        failures: pairs left out because one of their two verdicts failed
            (NaN, timeout, error, unreadable answer).
        first_position: share of the single-order verdicts (two per judged
            pair) that pick the response shown first (A); 0.5 is no bias.
        ties: share of the single-order verdicts that are ties.
        position_decided: share of judged pairs where the two orders name
            different winners: the same position won both times, so the
            position, not the text, decided.
        accuracy_one_order: share of the single-order verdicts that pick the
            better response (each pair counted in both orders, as a random
            order would show it).
        accuracy_swapped: share of judged pairs whose swap-averaged win rate
            of the better response (``win_rate_from_orders``) is above 0.5; a
            pair the two orders split is a tie, not a pick.
        mean_win_rate: the better response's mean swap-averaged win rate
            (0.5: the judge tells the two apart no better than a coin).
        reasons: the commonest failure messages of the failed verdicts, with counts.
    """

    pairs: int
    failures: int
    first_position: float
    ties: float
    position_decided: float
    accuracy_one_order: float
    accuracy_swapped: float
    mean_win_rate: float
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def judged(self) -> int:
        """Pairs with both verdicts."""
        return self.pairs - self.failures

    def table(self) -> str:
        rows = [
            ["pairs judged in both orders", f"{self.judged} of {self.pairs}"],
            ["failed (left out)", str(self.failures)],
            ["verdicts picking position A", _pct(self.first_position)],
            ["verdicts that are ties", _pct(self.ties)],
            ["pairs the position decided", _pct(self.position_decided)],
            ["accuracy, one order", _pct(self.accuracy_one_order)],
            ["accuracy, swap-averaged", _pct(self.accuracy_swapped)],
            ["better response's mean win rate", _pct(self.mean_win_rate)],
            *_reason_rows(self.reasons),
        ]
        return format_table(["position bias", "value"], rows)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "judged": self.judged}


def _letter(value: float) -> str:
    """A verdict from the first-shown response's win value: A above 0.5, B below, else tie."""
    return "A" if value > 0.5 else "B" if value < 0.5 else "tie"


def _pairwise_term(judge: Any) -> Any:
    if hasattr(judge, "name") and callable(judge):
        return judge
    from rewardkit.judge.comparative import PairwiseJudge

    return PairwiseJudge(judge, swap=False, name="judge_one_order")


def position_bias(judge: Any, pairs: Sequence[Pair]) -> PositionBiasReport:
    """Judge each ``(question, better, worse)`` pair in both orders and measure the bias.

    The judge scores one order per row: ``completion`` shown as response A
    against ``baseline`` as response B, and returns A's win value (1 if A
    wins, 0 if B wins, 0.5 for a tie; a probability is read the same way,
    above or below 0.5). That is :class:`rewardkit.judge.PairwiseJudge` with
    ``swap=False`` (built from :class:`~rewardkit.judge.JudgeSettings` or a
    client when one is given), with the pairwise template and
    :func:`~rewardkit.judge.parse.parse_preference`. Both orders of every
    pair go in one batch, so the judge's concurrency applies.

    Args:
        judge: a term reading ``prompt``, ``completion`` and ``baseline``, or
            judge settings/client for a ``PairwiseJudge(swap=False)``.
        pairs: ``(question, better, worse)`` triples, ``better`` known to be
            the better response (a right and a wrong answer to one question).

    Example:
        >>> from rewardkit.core.term import term
        >>> @term
        ... def first_wins(completion, baseline):  # always picks A
        ...     return [1.0] * len(completion)
        >>> report = position_bias(first_wins, [("2+2?", "4", "5"), ("3+3?", "6", "7")])
        >>> report.first_position, report.position_decided
        (1.0, 1.0)
        >>> report.accuracy_one_order, report.accuracy_swapped, report.mean_win_rate
        (0.5, 0.0, 0.5)
    """
    from rewardkit.judge.comparative import win_rate_from_orders

    if not pairs:
        raise BatchError("position_bias needs at least one (question, better, worse) pair")
    for index, pair in enumerate(pairs):
        if len(pair) != 3:
            raise BatchError(f"pair {index} is not a (question, better, worse) triple: {pair!r}")
    term = _pairwise_term(judge)
    n = len(pairs)
    questions = [q for q, _, _ in pairs]
    better = [b for _, b, _ in pairs]
    worse = [w for _, _, w in pairs]
    batch = {
        "prompt": questions + questions,
        "completion": better + worse,  # rows < n: better shown as A; rows >= n: swapped
        "baseline": worse + better,
    }
    out = term(batch)
    values, ok = _scored(out, 2 * n, "the pairwise judge")
    judged = ok[:n] & ok[n:]
    first = [_letter(v) for v in values[:n]]
    swapped = [_letter(v) for v in values[n:]]
    keep = np.flatnonzero(judged)
    letters = [first[k] for k in keep] + [swapped[k] for k in keep]
    rates = np.array([win_rate_from_orders(first[k], swapped[k]) for k in keep])
    right = [first[k] == "A" for k in keep] + [swapped[k] == "B" for k in keep]
    decided = [first[k] == swapped[k] != "tie" for k in keep]
    return PositionBiasReport(
        pairs=n,
        failures=int(n - keep.size),
        first_position=_rate(letters.count("A"), len(letters)),
        ties=_rate(letters.count("tie"), len(letters)),
        position_decided=_rate(sum(decided), keep.size),
        accuracy_one_order=_rate(sum(right), len(right)),
        accuracy_swapped=_rate(int(np.sum(rates > 0.5)), keep.size),
        mean_win_rate=float(rates.mean()) if keep.size else math.nan,
        reasons=_reasons(out, ~ok),
    )


# -- agreement with a verifier -----------------------------------------------------------------


@dataclass(frozen=True)
class AgreementReport:
    """A judge against a verifier (or labels), on the rows both scored.

    Attributes:
        rows: rows in the batch.
        judge_failures: rows the judge did not score (NaN, timeout, error).
        unlabelled: rows without a label (the verifier abstained or failed,
            or the label is None/NaN).
        true_positives: judge passes, label 1.
        false_positives: judge passes, label 0 (a judge's costly mistake:
            a reward for a wrong answer).
        false_negatives: judge fails, label 1.
        true_negatives: judge fails, label 0.
        threshold: a score at or above it is a pass (judge and verifier).
        reasons: the commonest messages of the rows the judge did not score.
    """

    rows: int
    judge_failures: int
    unlabelled: int
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    threshold: float
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def both(self) -> int:
        """Rows scored by the judge and labelled."""
        return (
            self.true_positives + self.false_positives + self.false_negatives + self.true_negatives
        )

    @property
    def coverage(self) -> float:
        """Share of the rows scored by both."""
        return _rate(self.both, self.rows)

    @property
    def accuracy(self) -> float:
        """Share of the rows scored by both where the judge agrees with the label."""
        return _rate(self.true_positives + self.true_negatives, self.both)

    @property
    def kappa(self) -> float:
        """Cohen's kappa, ``(p_o - p_e) / (1 - p_e)``: agreement beyond chance (NaN if undefined).

        ``p_e`` is the agreement expected from the two sides' pass rates alone,
        so a judge that passes everything on a set of mostly wrong answers
        gets a kappa near 0 however high its accuracy.
        """
        n = self.both
        if n == 0:
            return math.nan
        judge_yes = (self.true_positives + self.false_positives) / n
        label_yes = (self.true_positives + self.false_negatives) / n
        expected = judge_yes * label_yes + (1 - judge_yes) * (1 - label_yes)
        if expected >= 1.0:
            return math.nan
        return (self.accuracy - expected) / (1 - expected)

    @property
    def false_positive_rate(self) -> float:
        """Share of the label-0 rows the judge passes."""
        return _rate(self.false_positives, self.false_positives + self.true_negatives)

    @property
    def false_negative_rate(self) -> float:
        """Share of the label-1 rows the judge fails."""
        return _rate(self.false_negatives, self.false_negatives + self.true_positives)

    def table(self) -> str:
        kappa = "n/a" if math.isnan(self.kappa) else f"{self.kappa:.3f}"
        rows = [
            ["rows scored by both", f"{self.both} of {self.rows} ({_pct(self.coverage)})"],
            ["judge failures", str(self.judge_failures)],
            ["unlabelled", str(self.unlabelled)],
            ["accuracy", _pct(self.accuracy)],
            ["Cohen's kappa", kappa],
            ["false positive rate", _pct(self.false_positive_rate)],
            ["false negative rate", _pct(self.false_negative_rate)],
            ["confusion (tp fp fn tn)",
             f"{self.true_positives} {self.false_positives} "
             f"{self.false_negatives} {self.true_negatives}"],
            *_reason_rows(self.reasons),
        ]  # fmt: skip
        return format_table([f"judge vs labels (pass >= {self.threshold:g})", "value"], rows)

    def to_dict(self) -> dict[str, Any]:
        derived = ("both", "coverage", "accuracy", "kappa", "false_positive_rate",
                   "false_negative_rate")  # fmt: skip
        return {**asdict(self), **{name: getattr(self, name) for name in derived}}


def _labels(source: Any, batch: Batch, n: int, threshold: float) -> npt.NDArray[np.float64]:
    """1.0/0.0 per row, NaN where there is no label."""
    if hasattr(source, "name") and callable(source):
        values, ok = _scored(source(batch), n, "the verifier")
        return np.where(ok, (values >= threshold).astype(np.float64), np.nan)
    if isinstance(source, str | bytes) or not isinstance(source, Sequence | np.ndarray):
        raise ConfigurationError(
            f"verifier_or_labels must be a term or a sequence of 1/0/None labels, got "
            f"{type(source).__name__}"
        )
    if len(source) != n:
        raise BatchError(f"{len(source)} labels for a batch of {n} rows")
    labels = np.array([math.nan if v is None else float(v) for v in source])
    bad = ~np.isnan(labels) & (labels != 0.0) & (labels != 1.0)
    if np.any(bad):
        raise BatchError(f"labels must be 1, 0 or None, got {labels[bad][:5].tolist()}")
    return labels


def verifier_agreement(
    judge: Any, verifier_or_labels: Any, batch: Batch, *, threshold: float = 0.5
) -> AgreementReport:
    """Score ``batch`` with the judge and compare it with a verifier or with labels.

    Args:
        judge: a term (a judge, or anything whose score is a pass above ``threshold``).
        verifier_or_labels: a term scored on the same batch (a pass at or
            above ``threshold``; its abstentions and failures are unlabelled
            rows), or one label per row: 1, 0, True, False, None (unlabelled).
        batch: the rows.
        threshold: the passing score, for the judge and for a verifier.

    Example:
        >>> from rewardkit.core.term import term
        >>> @term
        ... def says_yes(completion):
        ...     return [1.0] * len(completion)
        >>> report = verifier_agreement(says_yes, [1, 0, 0, 0], {"completion": list("abcd")})
        >>> report.accuracy, report.kappa, report.false_positive_rate
        (0.25, 0.0, 1.0)
    """
    if not math.isfinite(threshold):
        raise ConfigurationError(f"threshold must be a finite number, got {threshold!r}")
    n = batch_size(batch)
    labels = _labels(verifier_or_labels, batch, n, threshold)
    out = judge(batch)
    values, ok = _scored(out, n, "the judge")
    labelled = ~np.isnan(labels)
    both = ok & labelled
    passes = values >= threshold
    positive = labels == 1.0

    masks = (passes & positive, passes & ~positive, ~passes & positive, ~passes & ~positive)
    tp, fp, fn, tn = (int(np.sum(both & mask)) for mask in masks)
    return AgreementReport(n, int(np.sum(~ok)), int(np.sum(~labelled)), tp, fp, fn, tn,
                           float(threshold), _reasons(out, ~ok))  # fmt: skip


# -- self-consistency --------------------------------------------------------------------------


@dataclass(frozen=True)
class SelfConsistencyReport:
    """How much a judge's answers to one row vary across its samples.

    Attributes:
        rows: rows in the batch.
        samples: judgments per row (the judge's ``samples``; 0 if unknown).
        failures: rows without a spread (NaN, timeout, error).
        median_spread: median over the scored rows of the standard deviation
            of a row's judgments (the judge's ``"spread"`` breakdown).
        mean_spread: its mean.
        max_spread: its largest value.
        unanimous: share of the scored rows whose judgments all agree (spread 0).
        reasons: the commonest messages of the rows without a spread.
    """

    rows: int
    samples: int
    failures: int
    median_spread: float
    mean_spread: float
    max_spread: float
    unanimous: float
    reasons: dict[str, int] = field(default_factory=dict)

    def table(self) -> str:
        def num(value: float) -> str:
            return "n/a" if math.isnan(value) else f"{value:.3f}"

        rows = [
            ["rows scored", f"{self.rows - self.failures} of {self.rows}"],
            ["judgments per row", str(self.samples)],
            ["median spread (std)", num(self.median_spread)],
            ["mean spread", num(self.mean_spread)],
            ["max spread", num(self.max_spread)],
            ["unanimous rows", _pct(self.unanimous)],
            *_reason_rows(self.reasons),
        ]
        return format_table(["self-consistency", "value"], rows)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def self_consistency(judge: Any, batch: Batch) -> SelfConsistencyReport:
    """The spread of a judge's repeated judgments of each row (``samples > 1``).

    Reads the ``"spread"`` breakdown that a judge with ``samples > 1`` (at
    a temperature above 0) adds to its output: the standard deviation of a
    row's judgments. A row the judge failed on has no spread and is counted
    in ``failures``.

    Args:
        judge: a term whose output holds ``terms["spread"]``
            (:class:`rewardkit.judge.YesNoJudge` and the other pointwise
            judges with ``samples > 1``).
        batch: the rows.

    Example:
        >>> import numpy as np
        >>> from rewardkit.core.output import RewardOutput
        >>> from rewardkit.core.term import RewardTerm
        >>> class Noisy(RewardTerm):
        ...     samples = 4
        ...     def _compute(self, batch):
        ...         spread = np.array([0.0, 0.5, 0.25])
        ...         return RewardOutput(np.ones(3), {"noisy": np.ones(3), "spread": spread})
        >>> report = self_consistency(Noisy("noisy"), {"completion": ["a", "b", "c"]})
        >>> report.median_spread, report.unanimous
        (0.25, 0.3333333333333333)
    """
    samples = int(getattr(judge, "samples", 0) or 0)
    if samples == 1:
        raise ConfigurationError(
            "self_consistency needs a judge with samples > 1 (and a temperature above 0): "
            "one judgment per row has no spread"
        )
    n = batch_size(batch)
    out = judge(batch)
    terms: Mapping[str, Any] = getattr(out, "terms", {})
    if "spread" not in terms:
        raise ConfigurationError(
            "the judge's output has no 'spread' breakdown: use a judge with samples > 1"
        )
    spread = np.asarray(terms["spread"], dtype=np.float64)
    _, ok = _scored(out, n, "the judge")
    ok &= ~np.isnan(spread)
    kept = spread[ok]
    median, mean, top = (float(f(kept)) if kept.size else math.nan
                         for f in (np.median, np.mean, np.max))  # fmt: skip
    unanimous = _rate(int(np.sum(kept == 0.0)), kept.size)
    return SelfConsistencyReport(n, samples, int(n - kept.size), median, mean, top, unanimous,
                                 _reasons(out, ~ok))  # fmt: skip
