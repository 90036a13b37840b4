"""Unsupervised perceptual rewards: sub-goals found in a few demonstrations' features.

Sermanet, Xu & Levine ("Unsupervised Perceptual Rewards for Imitation Learning",
arXiv 1612.06699; ICLR 2017 workshop / RSS 2017) build a dense, staged reward from
a handful of demonstration videos and the features of a pretrained vision model,
without labels. Checked against the ICLR 2017 text (Sec. 2.1, Algorithm 1,
Sec. 2.2, Eqs. 1-2); its Appendix A.1 (how the per-step rewards are combined)
was not available, so that part is marked below.

**The paper's parts.**

1. *Steps* (Sec. 2.1, Algorithm 1 "Recursive similarity maximization"). Each
   demonstration x_{1..T} (T frames of F features, raw) is split, on its own,
   into n contiguous segments of at least ``min_size`` frames so as to minimize
   AverageStd over the segments' AverageStd values,

       min_{t_1 < … < t_{n−1}}  (1/n) Σ_{i=1..n} (1/F) Σ_j std_j(x_{t_{i−1}:t_i}),

   with t_0 = 0, t_n = T. Algorithm 1 searches this exhaustively by recursion over
   the first split point, keeping the first (earliest) minimum; here a dynamic
   programme over suffixes finds the same minimum and the same tie-break in
   O(n T² F) (:func:`segment_demonstration`, ``weighting="segment"``).
2. *Feature selection* (Sec. 2.2, Eq. 1). Each feature is first normalized by
   the mean and standard deviation over all training frames. For step g, its
   frames are positives and all other frames negatives; each feature i scores

       z_i = α |μ⁺_i − μ⁻_i| − (σ⁺_i + σ⁻_i),                               (1)

   and the top n features are kept, with α = 5.0 and n = 32 in the paper
   (:func:`step_feature_scores`; here n is ``n_features`` = M).
3. *Per-step reward* (Sec. 2.2, Eq. 2). Over step g's selected features a
   (normalized as above),

       R_g(a) = (1/M) Σ_{i=1..M} (a_i − μ⁺_i)² / σ⁺_i,                        (2)

   exactly as printed: divided by σ⁺, not σ⁺², although the text calls it the
   log-probability of an independent Gaussian (:func:`step_distance`). R_g is a
   distance: 0 at the step's mean, larger farther away.
4. *Combination* (Sec. 2.2, last sentence): the per-step rewards are combined
   "into a single reward function where later steps yield higher reward than
   earlier steps", details in Appendix A.1, which we could not read. Our
   combination R(x) = Σ_{g=2..n} 2^{g−1} p_g(x) (step 1, the starting state,
   weighted 0) has that property, but its weights are our reading of the
   appendix, not checked against its text.

**What is ours ("-style").**

* p_g(x) = exp(−R_g(x) / 2) ∈ (0, 1] (:meth:`PerceptualReward.step_scores`),
  which turns the paper's distance R_g into a step score (the paper binarizes
  per-step rewards at 0.5 in its Table 2 but the available text does not say how
  R_g is mapped to [0, 1]); with Eq. 2's σ⁺ (not σ⁺²) it is not a normalized
  likelihood. :meth:`PerceptualReward.step_distances` gives R_g itself.
* ``weighting="frame"`` in :func:`segment_demonstration` (length-weighted
  segment stds), the floor ``min_std`` on every σ, and ``min_size``'s default.
* Features are given as arrays: the caller extracts them (the paper used the
  activations of an ImageNet-pretrained Inception network from its first
  "mixed" layer on).

Example:
    >>> x = np.array([[0.0], [0.1], [0.0], [5.0], [5.1], [5.0]])
    >>> segment_demonstration(x, n_steps=2)
    array([3])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import BatchError, ConfigurationError, ShapeError
from rewardkit.core.output import FloatArray
from rewardkit.core.term import RewardTerm

__all__ = [
    "PerceptualReward",
    "PerceptualRewardTerm",
    "segment_costs",
    "segment_demonstration",
    "segment_labels",
    "step_distance",
    "step_feature_scores",
]

IntArray = npt.NDArray[np.int64]

# Relative tolerance under which two segmentations' costs count as tied (rounding
# in the running sums of segment_costs would otherwise decide ties).
_TIE = 1e-9


def _frames(features: Any, what: str = "features") -> FloatArray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ShapeError(f"{what} must have shape (T, F) with T, F >= 1, got {x.shape}")
    if not np.isfinite(x).all():
        raise BatchError(f"{what} must be finite: a NaN or inf frame cannot be segmented or scored")
    return x


def _positive_int(value: Any, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigurationError(f"{what} must be an int >= {minimum}, got {value!r}")
    return int(value)


def segment_costs(features: Any) -> FloatArray:
    """c[a, b] = (1/F) Σ_j std_j(x_{a:b}): AverageStd of frames a..b−1 (b > a), Algorithm 1.

    Returns:
        Shape (T + 1, T + 1); entries with b ≤ a are +inf.

    Example:
        >>> segment_costs([[0.0], [2.0]])[0, 2], segment_costs([[0.0], [2.0]])[1, 2]
        (np.float64(1.0), np.float64(0.0))
    """
    x = _frames(features)
    t = x.shape[0]
    s1 = np.vstack([np.zeros(x.shape[1]), np.cumsum(x, axis=0)])
    s2 = np.vstack([np.zeros(x.shape[1]), np.cumsum(x * x, axis=0)])
    costs = np.full((t + 1, t + 1), np.inf)
    for a in range(t):
        length = np.arange(1, t - a + 1)[:, None]
        mean = (s1[a + 1 :] - s1[a]) / length
        var = (s2[a + 1 :] - s2[a]) / length - mean * mean
        costs[a, a + 1 :] = np.sqrt(np.clip(var, 0.0, None)).mean(axis=1)
    return costs


def segment_demonstration(
    features: Any, n_steps: int, min_size: int = 1, weighting: str = "segment"
) -> IntArray:
    """Split points t_1 < … < t_{n−1} minimizing the average within-segment feature std.

    The paper's Algorithm 1 (exhaustive recursive search) solved by dynamic
    programming: same minimum, same tie-break (the earliest first split, then the
    earliest second, …).

    Args:
        features: x, shape (T, F), one demonstration's frames.
        n_steps: n ≥ 1, the number of steps (segments).
        min_size: every step spans at least this many frames (Algorithm 1's
            ``min_size``; the paper gives no value).
        weighting: ``"segment"`` (the paper): every segment's AverageStd counts
            alike, which favours short segments, so set ``min_size`` to a sizeable
            share of T; ``"frame"`` (ours): each segment's std weighted by its
            length, (1/T) Σ_i (t_i − t_{i−1}) · std(segment i), which has no such bias.

    Returns:
        The n − 1 indices where steps 2..n start (shape (n − 1,)).

    Raises:
        ConfigurationError: if T < n · ``min_size``.
    """
    x = _frames(features)
    n = _positive_int(n_steps, "n_steps")
    m = _positive_int(min_size, "min_size")
    t = x.shape[0]
    if t < n * m:
        raise ConfigurationError(
            f"a demonstration of {t} frames cannot hold {n} steps of at least {m} frames; "
            "lower n_steps or min_size"
        )
    if weighting not in ("segment", "frame"):
        raise ConfigurationError(f"weighting must be 'segment' or 'frame', got {weighting!r}")
    costs = segment_costs(x)
    if weighting == "frame":
        lengths = np.arange(t + 1)[None, :] - np.arange(t + 1)[:, None]
        costs = np.where(lengths > 0, costs * np.maximum(lengths, 1), np.inf)
    # best[k, a]: the least summed cost of frames a..T−1 in k segments; nxt[k, a] the
    # end of the first of them (the earliest among ties, as Algorithm 1's strict "<").
    best = np.full((n + 1, t + 1), np.inf)
    nxt = np.zeros((n + 1, t + 1), dtype=np.int64)
    best[0, t] = 0.0
    for k in range(1, n + 1):
        for a in range(t - k * m, -1, -1):
            ends = np.arange(a + m, t - (k - 1) * m + 1)
            totals = costs[a, ends] + best[k - 1, ends]
            least = totals.min()
            i = int(np.argmax(totals <= least + _TIE * max(1.0, abs(least))))
            best[k, a], nxt[k, a] = totals[i], ends[i]
    splits = []
    a = 0
    for k in range(n, 1, -1):
        a = int(nxt[k, a])
        splits.append(a)
    return np.array(splits, dtype=np.int64)


def segment_labels(length: int, boundaries: Any) -> IntArray:
    """The step (0-based) of each of ``length`` frames, given the steps' start indices.

    Example:
        >>> segment_labels(5, [2, 4])
        array([0, 0, 1, 1, 2])
    """
    cuts = np.asarray(boundaries, dtype=np.int64).reshape(-1)
    if (np.diff(cuts) <= 0).any() or (cuts.size and (cuts[0] <= 0 or cuts[-1] >= length)):
        raise ShapeError(f"boundaries must increase strictly inside (0, {length}), got {cuts}")
    labels: IntArray = np.searchsorted(cuts, np.arange(length), side="right").astype(np.int64)
    return labels


def _moments(x: FloatArray, min_std: float) -> tuple[FloatArray, FloatArray]:
    return x.mean(axis=0), np.maximum(x.std(axis=0), min_std)


def step_feature_scores(
    features: Any, labels: Any, step: int, alpha: float = 5.0, min_std: float = 1e-6
) -> FloatArray:
    """Eq. (1): z_i = α |μ⁺_i − μ⁻_i| − (σ⁺_i + σ⁻_i), how well feature i tells a step apart.

    The paper applies it to features already normalized over all training frames
    (:meth:`PerceptualReward.fit` does that); this function scores what it is given.

    Args:
        features: shape (N, F), demonstration frames pooled over demonstrations.
        labels: shape (N,), each frame's step.
        step: the step g whose frames are the positives; all others are negatives.
        alpha: α > 0, the weight of the mean gap against the spreads (paper: 5.0).
        min_std: floor on σ (ours; a constant feature would otherwise have σ = 0).

    Example:
        >>> x = [[0.0, 1.0], [0.0, 3.0], [1.0, 1.0], [1.0, 3.0]]
        >>> step_feature_scores(x, [0, 0, 1, 1], step=1, alpha=5.0, min_std=0.0)
        array([ 5., -2.])
    """
    x = _frames(features)
    y = np.asarray(labels)
    if y.shape != (x.shape[0],):
        raise ShapeError(f"labels must have shape ({x.shape[0]},), got {y.shape}")
    positive = y == step
    if not positive.any() or positive.all():
        raise BatchError(f"step {step} needs both positive and negative frames")
    a = float(alpha)
    if not (math.isfinite(a) and a > 0):
        raise ConfigurationError(f"alpha must be finite and > 0, got {alpha!r}")
    mu_pos, sd_pos = _moments(x[positive], min_std)
    mu_neg, sd_neg = _moments(x[~positive], min_std)
    scores: FloatArray = a * np.abs(mu_pos - mu_neg) - (sd_pos + sd_neg)
    return scores


def step_distance(features: Any, mean: Any, std: Any, selected: Any) -> FloatArray:
    """Eq. (2): R_g(a) = (1/M) Σ_{i ∈ sel} (a_i − μ⁺_i)² / σ⁺_i, each frame's distance to step g.

    As printed in the paper: divided by σ⁺_i, not σ⁺_i².

    Example:
        >>> step_distance([[1.0, 9.0], [3.0, 9.0]], mean=[1.0], std=[2.0], selected=[0])
        array([0., 2.])
    """
    x = _frames(features)
    idx = np.asarray(selected, dtype=np.int64)
    mu = np.asarray(mean, dtype=np.float64)
    sd = np.asarray(std, dtype=np.float64)
    if idx.ndim != 1 or mu.shape != idx.shape or sd.shape != idx.shape or not idx.size:
        raise ShapeError("selected, mean and std must share one shape (M,) with M >= 1")
    if (idx < 0).any() or (idx >= x.shape[1]).any():
        raise ShapeError(f"selected features must index the {x.shape[1]} features")
    distance: FloatArray = ((x[:, idx] - mu) ** 2 / sd).mean(axis=1)
    return distance


class PerceptualReward:
    """A staged reward fitted on demonstrations' features (Sermanet et al. 2016).

    Build it with :meth:`fit`. :meth:`step_distances` gives the paper's R_g (Eq. 2)
    per step, :meth:`step_scores` our p_g = exp(−R_g / 2), and :meth:`__call__`
    the combined reward R(x) = Σ_{g≥2} 2^{g−1} p_g(x) (weights: our reading of the
    paper's Appendix A.1, unchecked). Inputs are raw features; they are normalized
    with the training frames' mean and std before R_g, as in the paper.

    Attributes:
        boundaries: per demonstration, where its steps 2..n start.
        selected: shape (n, M), each step's feature indices.
        means, stds: shape (n, M), each step's μ⁺, σ⁺ over its features (normalized units).
        feature_mean, feature_std: shape (F,), the normalization (identity if not given).
    """

    def __init__(
        self,
        boundaries: list[IntArray],
        selected: Any,
        means: Any,
        stds: Any,
        feature_mean: Any = None,
        feature_std: Any = None,
    ) -> None:
        self.boundaries = boundaries
        self.selected = np.asarray(selected, dtype=np.int64)
        self.means = np.asarray(means, dtype=np.float64)
        self.stds = np.asarray(stds, dtype=np.float64)
        self.feature_mean = None if feature_mean is None else np.asarray(feature_mean, float)
        self.feature_std = None if feature_std is None else np.asarray(feature_std, float)
        self.n_features = int(self.means.shape[1]) if self.means.ndim == 2 else 0

    @property
    def n_steps(self) -> int:
        return int(self.selected.shape[0])

    @classmethod
    def fit(
        cls,
        demonstrations: Sequence[Any],
        n_steps: int,
        *,
        n_features: int = 32,
        alpha: float = 5.0,
        min_size: int = 1,
        weighting: str = "segment",
        min_std: float = 1e-3,
    ) -> PerceptualReward:
        """Segment each demonstration, normalize features, select M per step, fit μ⁺, σ⁺.

        Args:
            demonstrations: D ≥ 1 arrays of shape (T_i, F), one per demonstration.
            n_steps: n ≥ 2 steps per demonstration.
            n_features: M ≤ F features kept per step (paper: 32).
            alpha: α in Eq. (1) (paper: 5.0).
            min_size: the shortest step, in frames.
            weighting: how segments' stds are averaged (see :func:`segment_demonstration`).
            min_std: floor on every σ, the normalization's included (ours; keeps
                R_g finite for a constant feature).
        """
        if isinstance(demonstrations, np.ndarray) or not demonstrations:
            raise ConfigurationError("demonstrations must be a non-empty list of (T, F) arrays")
        demos = [_frames(d, f"demonstrations[{i}]") for i, d in enumerate(demonstrations)]
        if len({d.shape[1] for d in demos}) != 1:
            raise ShapeError("every demonstration must have the same number of features F")
        n = _positive_int(n_steps, "n_steps", minimum=2)
        m = _positive_int(n_features, "n_features")
        if m > demos[0].shape[1]:
            raise ConfigurationError(f"n_features={m} exceeds the {demos[0].shape[1]} features")
        floor = float(min_std)
        if not (math.isfinite(floor) and floor > 0):
            raise ConfigurationError(f"min_std must be finite and > 0, got {min_std!r}")
        boundaries = [segment_demonstration(d, n, min_size, weighting) for d in demos]
        pooled = np.vstack(demos)
        f_mean, f_std = _moments(pooled, floor)
        normed = (pooled - f_mean) / f_std
        labels = np.concatenate(
            [segment_labels(len(d), b) for d, b in zip(demos, boundaries, strict=True)]
        )
        selected, means, stds = [], [], []
        for g in range(n):
            scores = step_feature_scores(normed, labels, g, alpha, floor)
            top = np.argsort(-scores, kind="stable")[:m]
            mu, sd = _moments(normed[labels == g][:, top], floor)
            selected.append(top)
            means.append(mu)
            stds.append(sd)
        return cls(boundaries, selected, means, stds, f_mean, f_std)

    def _normalize(self, x: FloatArray) -> FloatArray:
        if self.feature_mean is None or self.feature_std is None:
            return x
        if x.shape[1] != self.feature_mean.shape[0]:
            raise ShapeError(f"features must have {self.feature_mean.shape[0]} columns")
        normed: FloatArray = (x - self.feature_mean) / self.feature_std
        return normed

    def step_distances(self, features: Any) -> FloatArray:
        """R_g(x) of Eq. (2) for every frame and step, shape (N, n)."""
        x = _frames(features)
        if self.n_steps == 0:
            raise ConfigurationError("this PerceptualReward has no steps; build it with fit()")
        z = self._normalize(x)
        return np.stack(
            [
                step_distance(z, self.means[g], self.stds[g], self.selected[g])
                for g in range(self.n_steps)
            ],
            axis=1,
        )

    def step_scores(self, features: Any) -> FloatArray:
        """p_g(x) = exp(−R_g(x) / 2) ∈ (0, 1], shape (N, n) ("-style": ours, not the paper's)."""
        scores: FloatArray = np.exp(-0.5 * self.step_distances(features))
        return scores

    def __call__(self, features: Any) -> FloatArray:
        """R(x) = Σ_{g=2..n} 2^{g−1} p_g(x), shape (N,): later steps are worth more.

        The paper states only that later steps yield higher reward (details in its
        Appendix A.1, unchecked here); the 2^{g−1} weights and step 1's weight 0 are
        our reading.
        """
        weights = 2.0 ** np.arange(self.n_steps)
        weights[0] = 0.0  # step 1 is where every demonstration starts
        reward: FloatArray = self.step_scores(features) @ weights
        return reward


class PerceptualRewardTerm(RewardTerm):
    """The fitted reward as a term over a features column (default ``next_obs``).

    Example:
        >>> demo = np.array([[0.0], [0.0], [0.0], [4.0], [6.0]])  # R_2(x) = (x − 5)² / √6.4
        >>> model = PerceptualReward.fit([demo], n_steps=2, n_features=1)
        >>> PerceptualRewardTerm(model)({"next_obs": [[0.0], [5.0], [6.0]]}).total.round(3)
        array([0.014, 2.   , 1.641])
    """

    def __init__(
        self, model: PerceptualReward, column: str = "next_obs", name: str = "perceptual_reward"
    ) -> None:
        super().__init__(name)
        if not isinstance(model, PerceptualReward):
            raise ConfigurationError("model must be a PerceptualReward (use PerceptualReward.fit)")
        self.model = model
        self.column = column
        self.columns = (column,)

    def _compute(self, batch: Batch) -> FloatArray:
        values = np.asarray(get_column(batch, self.column), dtype=np.float64)
        return self.model(values.reshape(values.shape[0], -1))
