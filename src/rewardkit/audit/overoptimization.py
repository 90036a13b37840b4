"""Measuring reward-model overoptimization: best-of-n estimates, KL budgets and Gao's fits.

Gao, Schulman and Hilton (2023), "Scaling Laws for Reward Model
Overoptimization", optimize a policy against a proxy reward model and watch a
gold reward. With d = √KL(π‖π_init), they find the gold reward's gain over
the initial policy follows

- best-of-n:  R(d) = d (α − β d),
- RL:         R(d) = d (α − β log d),

so the gold rises, peaks and falls while the proxy keeps rising. For
best-of-n the KL is known in closed form: KL_bon(n) = log n − (n − 1)/n.

This module holds the pure parts: :func:`kl_best_of_n`, an unbiased
best-of-n estimate from N ≥ n samples per prompt (:func:`best_of_n_mean`),
and the two least-squares fits (:func:`fit_gao`). Both forms are linear in
(α, β), so the fit is ordinary least squares through the origin.

Example:
    >>> round(kl_best_of_n(64), 3)
    3.175
    >>> d = np.linspace(0.5, 3.0, 6)
    >>> fit = fit_gao(d, d * (1.0 - 0.25 * d), "bon")
    >>> round(fit.alpha, 6), round(fit.beta, 6), round(fit.r2, 6)
    (1.0, 0.25, 1.0)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

__all__ = [
    "GaoFit",
    "best_of_n_mean",
    "fit_gao",
    "kl_best_of_n",
    "paired_accuracy",
    "peak_and_drop",
]

GaoForm = Literal["bon", "rl"]


def kl_best_of_n(n: int) -> float:
    """KL(π_bon‖π) = log n − (n − 1)/n, the KL of best-of-n sampling (Stiennon et al. 2020).

    Example:
        >>> kl_best_of_n(1)
        0.0
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    return math.log(n) - (n - 1) / n


def best_of_n_mean(selector: Any, values: Any, n: int) -> np.ndarray:
    """Per prompt, the expected ``values`` of the sample that maximizes ``selector`` among n.

    ``selector`` and ``values`` have shape (P, N): N samples of each of P
    prompts. The estimate averages over every size-n subset of the N samples
    (drawn without replacement), as Gao et al. do: with the samples ranked by
    ``selector`` from 1 (lowest) to N, the one ranked i is the best of a
    random subset with probability C(i − 1, n − 1) / C(N, n). Between tied
    selectors the later sample wins; NaN selectors rank lowest, and a NaN
    value counts only where it can be picked.

    Example:
        >>> best_of_n_mean([[0.1, 0.9, 0.5]], [[0.0, 1.0, 0.0]], 2)  # 2 of 3 subsets hold 0.9
        array([0.66666667])
    """
    selector = np.asarray(selector, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if selector.shape != values.shape or selector.ndim != 2:
        raise ValueError(f"selector and values must both be (P, N), got {selector.shape}, "
                         f"{values.shape}")  # fmt: skip
    count = selector.shape[1]
    if not 1 <= n <= count:
        raise ValueError(f"n must be in [1, {count}] (the samples per prompt), got {n}")
    order = np.argsort(np.nan_to_num(selector, nan=-np.inf), axis=1, kind="stable")
    ranked = np.take_along_axis(values, order, axis=1)
    ranks = np.arange(1, count + 1)
    weights = np.array([math.comb(int(i) - 1, n - 1) for i in ranks], dtype=np.float64)
    weights /= math.comb(count, n)
    result: np.ndarray = np.where(weights > 0, ranked, 0.0) @ weights
    return result


def paired_accuracy(selector: Any, gold: Any, keep: Any = None) -> float:
    """Over every (correct, incorrect) pair of samples of the same prompt, the share the
    selector ranks correctly (a tie counts ½): what best-of-n needs of a proxy.

    ``selector`` and ``gold`` (1 correct, 0 incorrect) have shape (P, N);
    ``keep`` (same shape, bool) restricts the pairs to the samples it marks,
    e.g. the completions that show their work. A NaN selector ranks lowest.
    NaN if there is no pair.

    Example:
        >>> paired_accuracy([[0.9, 0.1, 0.5], [0.2, 0.2, 0.0]], [[1, 0, 0], [1, 0, 1]])
        0.625
    """
    selector = np.nan_to_num(np.asarray(selector, dtype=np.float64), nan=-np.inf)
    gold = np.asarray(gold, dtype=np.float64)
    keep = np.ones(gold.shape, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    if not selector.shape == gold.shape == keep.shape or gold.ndim != 2:
        raise ValueError(f"selector, gold and keep must all be (P, N), got {selector.shape}, "
                         f"{gold.shape}, {keep.shape}")  # fmt: skip
    wins = pairs = 0.0
    for scores, labels, mask in zip(selector, gold, keep, strict=True):
        right, wrong = scores[mask & (labels == 1)], scores[mask & (labels == 0)]
        above = (right[:, None] > wrong[None, :]).sum() + 0.5 * (
            right[:, None] == wrong[None, :]
        ).sum()
        wins, pairs = wins + above, pairs + right.size * wrong.size
    return float(wins / pairs) if pairs else float("nan")


@dataclass(frozen=True)
class GaoFit:
    """A least-squares fit of R(d) = d(α − β d) ("bon") or d(α − β log d) ("rl")."""

    form: str
    alpha: float
    beta: float
    r2: float
    points: int

    def predict(self, d: Any) -> np.ndarray:
        d = np.asarray(d, dtype=np.float64)
        return np.asarray(d * (self.alpha - self.beta * _shape(d, self.form)))

    def peak(self) -> float:
        """The d > 0 at which the fitted gold peaks (NaN if it never turns down, inf if
        beyond any reachable distance)."""
        if self.beta <= 0:
            return math.nan
        if self.form == "bon":
            return self.alpha / (2 * self.beta) if self.alpha > 0 else math.nan
        exponent = self.alpha / self.beta - 1  # d/dd of d(α − β log d) = α − β(log d + 1)
        return math.exp(exponent) if exponent < 700 else math.inf

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"d_peak": self.peak()}


def _shape(d: np.ndarray, form: str) -> np.ndarray:
    if form == "bon":
        return d
    if form == "rl":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(d > 0, np.log(np.where(d > 0, d, 1.0)), 0.0)  # d log d → 0 at 0
    raise ValueError(f"form must be 'bon' or 'rl', got {form!r}")


def fit_gao(d: Any, gain: Any, form: GaoForm) -> GaoFit:
    """Fit Gao et al.'s functional form to gold gains ``gain`` at distances ``d``.

    ``gain`` is the gold reward minus the initial policy's; ``d`` is √KL.
    Least squares on the features (d, −d·f(d)) with f(d) = d or log d;
    R² = 1 − SS_res / SS_tot around the mean gain. NaN points are dropped.

    Example:
        >>> d = np.array([0.5, 1.0, 2.0, 4.0])
        >>> fit = fit_gao(d, d * (0.3 - 0.1 * np.log(d)), "rl")
        >>> round(fit.alpha, 6), round(fit.beta, 6)
        (0.3, 0.1)
    """
    d = np.asarray(d, dtype=np.float64)
    gain = np.asarray(gain, dtype=np.float64)
    if d.shape != gain.shape or d.ndim != 1:
        raise ValueError(f"d and gain must be 1-D of one length, got {d.shape}, {gain.shape}")
    keep = np.isfinite(d) & np.isfinite(gain)
    d, gain = np.maximum(d[keep], 0.0), gain[keep]
    if d.size < 2:
        raise ValueError(f"fit_gao needs at least 2 finite points, got {d.size}")
    features = np.stack([d, -d * _shape(d, form)], axis=1)
    (alpha, beta), *_ = np.linalg.lstsq(features, gain, rcond=None)
    residual = gain - features @ np.array([alpha, beta])
    total = float(((gain - gain.mean()) ** 2).sum())
    r2 = 1.0 - float((residual**2).sum()) / total if total > 0 else math.nan
    return GaoFit(form, float(alpha), float(beta), r2, int(d.size))


def peak_and_drop(steps: Any, gold: Any, drop: float = 0.1) -> tuple[float, float, float | None]:
    """(peak gold, step of the peak, first later step with gold < (1 − drop)·peak, or None).

    A fall is relative to a positive peak; with a peak ≤ 0 there is none.

    Example:
        >>> peak_and_drop([0, 10, 20, 30], [0.1, 0.3, 0.28, 0.2])
        (0.3, 10.0, 30.0)
    """
    steps = np.asarray(steps, dtype=np.float64)
    gold = np.asarray(gold, dtype=np.float64)
    if steps.shape != gold.shape or steps.size == 0:
        raise ValueError("steps and gold must be non-empty and of one length")
    if np.isnan(gold).all():
        raise ValueError("every gold value is NaN: there is no peak")
    index = int(np.nanargmax(gold))
    peak = float(gold[index])
    if peak <= 0:
        return peak, float(steps[index]), None
    later = np.nonzero(gold[index + 1 :] < (1.0 - drop) * peak)[0]
    fallen = float(steps[index + 1 + later[0]]) if later.size else None
    return peak, float(steps[index]), fallen
