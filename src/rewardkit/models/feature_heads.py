"""Reward heads over precomputed feature vectors: an MLP Bradley–Terry head, Ctrl-U-style
uncertainty weighting, and an ensemble of heads.

A head reads a feature vector φ (a frozen backbone's, such as
:meth:`rewardkit.models.FrozenHeadRewardModel.features` gives), standardized with the
training rows' mean μ and spread σ (over chosen and rejected rows together, as
:class:`~rewardkit.models.frozen_head.BradleyTerryHead` does), φ̂ = (φ − μ)/σ, and returns

    r(φ) = W_L a(W_{L−1} ⋯ a(W_1 φ̂ + b_1) ⋯ + b_{L−1}) + b_L

with L = ``depth`` Linear layers and activation a (SiLU, tanh, ReLU or none); depth 1 is
a linear head. ``fit`` trains it on pairs of chosen and rejected rows with the
Bradley–Terry loss (Bradley & Terry 1952) and an explicit L2 penalty on the weight
matrices, by AdamW with its own decay off:

    L = E_i[softplus(−Δ_i)] + λ Σ_l ‖W_l‖²,   Δ_i = r(φ_c,i) − r(φ_r,i)

(−log σ(Δ) = softplus(−Δ)); at depth 1 this is BradleyTerryHead's objective.

**BaseReward-style head** (Zhang et al. 2025, "BaseReward: A Strong Baseline for
Multimodal Reward Model", arXiv:2509.16127). Its ablations over head depth (1 to 5) and
activation (none, tanh, SiLU) settle on two layers with SiLU: the defaults here. Kept:
the scalar head with BT loss, the depth and activation knobs, ensembles by averaging.
Left out: everything multimodal, the backbone (trained there, frozen here), the data
mixture, and the zero-coefficient and length-normalisation regularisers (the paper
finds no consistent gain and its recipe drops them).

**Ctrl-U-style uncertainty weighting** (``weighting="ctrl_u"``; Zhang et al. 2025,
"Ctrl-U: Robust Conditional Image Generation via Uncertainty-aware Reward Modeling",
arXiv:2410.11236). With dropout p on, each pair is scored in two stochastic passes,
margins Δ¹ and Δ²; their disagreement

    u_i = |σ(Δ¹_i) − σ(Δ²_i)| ∈ [0, 1)

weights pass 1's BT loss and is added back, so that it cannot grow for free:

    L = E_i[softplus(−Δ¹_i)·exp(−s·u_i) + s·u_i] + λ Σ_l ‖W_l‖²

with s = ``uncertainty_scale`` and u not detached (gradients reach both passes, as in
the paper's code), s optionally ramped up from 0 over the first ``warmup`` share of the
steps. What is adapted: in Ctrl-U a *frozen* reward model (a segmenter, a depth
estimator) judges two images that a diffusion model predicts from the same noise at
adjacent timesteps, and the weighted reward loss trains the *generator*; here the reward
model itself is trained, and its two predictions are two dropout passes of the head.
u is the absolute difference of the two Bernoulli preference probabilities (the paper's
depth/edge form |c¹ − c²|; its segmentation form, a KL between the two predictions, is
not offered): it is bounded, so a pair's weight stays at least e^{−s}. The paper's
warm-up ramps the reward loss against the diffusion loss; with no other loss here it
ramps s. Left out: the generator and its diffusion loss, timestep pairs and the timestep
mask, the per-pixel form, EMA. The paper shows nothing about preference reward models;
this is an option to measure, not a known gain.

:class:`HeadEnsemble` averages its members' scores, each first z-scored against the
scores of its own training rows, and reports their spread. BaseReward ensembles reward
models by averaging scores; whether it standardizes them first, and how, is not
confirmed in the paper.

Example:
    >>> rng = np.random.default_rng(0)
    >>> rejected = rng.normal(size=(64, 3))
    >>> chosen = rejected + [1.0, 0.0, 0.0]
    >>> head = MLPRewardHead(3, depth=2, hidden=16)
    >>> head.fit(chosen, rejected, epochs=60, learning_rate=1e-2)["train_accuracy"]
    1.0
    >>> robust = MLPRewardHead(3, hidden=16)
    >>> metrics = robust.fit(chosen, rejected, epochs=60, learning_rate=1e-2, weighting="ctrl_u")
    >>> 0.0 < metrics["mean_weight"] <= 1.0
    True
    >>> ensemble = fit_head_ensemble(chosen, rejected, size=3, hidden=16, epochs=30)
    >>> ensemble.score(chosen[:2]).shape, bool((ensemble.score_std(chosen) >= 0).all())
    ((2,), True)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.models._common import ModelError

__all__ = [
    "ACTIVATIONS",
    "HeadEnsemble",
    "MLPRewardHead",
    "ctrl_u_loss",
    "fit_head_ensemble",
]

ACTIVATIONS = ("silu", "tanh", "relu", "none")
"""The activations a head may use between its Linear layers."""

Weighting = Literal["ctrl_u"] | None


def ctrl_u_loss(margin_1: Any, margin_2: Any, scale: float) -> tuple[Any, Any]:
    """Per-pair Ctrl-U-style loss softplus(−Δ¹)·exp(−s·u) + s·u, u = |σ(Δ¹) − σ(Δ²)|.

    Args:
        margin_1: (P,) torch tensor, the margins r(φ_c) − r(φ_r) of the first pass.
        margin_2: (P,) the margins of the second pass (same pairs, other dropout masks).
        scale: s ≥ 0; at 0 the loss is pass 1's plain Bradley–Terry loss.

    Returns:
        ``(loss, weight)``: (P,) tensors, the per-pair loss and exp(−s·u) ∈ (0, 1]
        (neither detached).

    Example:
        >>> import torch
        >>> loss, weight = ctrl_u_loss(torch.zeros(2), torch.tensor([0.0, 50.0]), 1.0)
        >>> [round(x, 4) for x in loss.tolist()], [round(x, 4) for x in weight.tolist()]
        ([0.6931, 0.9204], [1.0, 0.6065])
    """
    import torch

    uncertainty = (torch.sigmoid(margin_1) - torch.sigmoid(margin_2)).abs()
    weight = torch.exp(-scale * uncertainty)
    loss = torch.nn.functional.softplus(-margin_1) * weight + scale * uncertainty
    return loss, weight


def _checked_pairs(chosen: Any, rejected: Any) -> tuple[np.ndarray, np.ndarray]:
    """``chosen`` and ``rejected`` as two equal (P ≥ 1, D) finite float64 arrays."""
    chosen, rejected = np.asarray(chosen, dtype=np.float64), np.asarray(rejected, np.float64)
    if chosen.shape != rejected.shape or chosen.ndim != 2 or not len(chosen):
        raise ShapeError(
            f"chosen {chosen.shape} and rejected {rejected.shape}: need two equal (P, D) "
            "arrays with P >= 1 pairs, one row per pair"
        )
    _check_finite(chosen, "chosen")
    _check_finite(rejected, "rejected")
    return chosen, rejected


def _check_finite(features: np.ndarray, name: str) -> None:
    if not np.isfinite(features).all():
        rows = np.flatnonzero(~np.isfinite(features).all(axis=1))
        raise ModelError(
            f"{name} has NaN or infinite features in {len(rows)} row(s) (first: {rows[:5]}); "
            "drop or repair those rows before fitting or scoring"
        )


def _check_fit_settings(
    l2: float, epochs: int, learning_rate: float, batch_size: int | None, dropout: float,
    uncertainty_scale: float, warmup: float, weighting: Weighting,
) -> None:  # fmt: skip
    if weighting not in (None, "ctrl_u"):
        raise ConfigurationError(f"weighting must be None or 'ctrl_u', got {weighting!r}")
    if not (math.isfinite(l2) and l2 >= 0):
        raise ConfigurationError(f"l2 must be finite and >= 0, got {l2}")
    if int(epochs) != epochs or epochs < 1:
        raise ConfigurationError(f"epochs must be a whole number >= 1, got {epochs}")
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ConfigurationError(f"learning_rate must be positive, got {learning_rate}")
    if batch_size is not None and (int(batch_size) != batch_size or batch_size < 1):
        raise ConfigurationError(f"batch_size must be None (full batch) or >= 1, got {batch_size}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigurationError(f"dropout must be in [0, 1), got {dropout}")
    if not (math.isfinite(uncertainty_scale) and uncertainty_scale >= 0):
        raise ConfigurationError(f"uncertainty_scale must be >= 0, got {uncertainty_scale}")
    if not 0.0 <= warmup <= 1.0:
        raise ConfigurationError(f"warmup is a share of the steps in [0, 1], got {warmup}")


def _warmed(scale: float, step: int, steps: int, warmup: float) -> float:
    """s ramped linearly from 0 over the first ``warmup`` share of ``steps`` (then s)."""
    ramp = warmup * steps
    return scale if ramp <= 0 else scale * min(1.0, step / ramp)


@dataclass
class _Plan:
    """One ``fit`` call's settings, checked."""

    l2: float
    epochs: int
    learning_rate: float
    batch_size: int | None
    dropout: float
    weighting: Weighting
    uncertainty_scale: float
    warmup: float


class MLPRewardHead:
    """A BaseReward-style MLP reward head on standardized features (see the module docs).

    Args:
        width: D, the features per row.
        depth: Linear layers (1: linear; L ≥ 2: L − 1 hidden layers Linear → activation,
            then Linear to one score).
        hidden: width of the hidden layers.
        activation: one of :data:`ACTIVATIONS` (``"none"``: a deep linear net).
        seed: seeds the initialization, the shuffling and the dropout masks; torch's
            global random stream is left as it was.

    Attributes:
        center, spread: μ and σ of the training rows (0 and 1 before ``fit``).
        score_center, score_scale: mean and std of the fitted head's scores on its training
            rows (what ``score(..., standardized=True)`` divides out).
        trained, metrics: whether ``fit`` ran, and what it returned.
    """

    def __init__(
        self, width: int, depth: int = 2, hidden: int = 256, activation: str = "silu",
        seed: int = 0,
    ) -> None:  # fmt: skip
        import torch

        if int(depth) != depth or depth < 1:
            raise ConfigurationError(f"depth must be a whole number >= 1 (1: linear), got {depth}")
        if activation not in ACTIVATIONS:
            raise ConfigurationError(
                f"unknown activation {activation!r}; known: {', '.join(ACTIVATIONS)}"
            )
        if width < 1 or hidden < 1:
            raise ConfigurationError(f"width and hidden must be >= 1, got {width} and {hidden}")
        self.width, self.depth, self.hidden = int(width), int(depth), int(hidden)
        self.activation, self.seed = activation, int(seed)
        sizes = [self.width] + [self.hidden] * (self.depth - 1) + [1]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.layers = torch.nn.ModuleList(
                torch.nn.Linear(a, b) for a, b in itertools.pairwise(sizes)
            )
        self.center, self.spread = np.zeros(self.width), np.ones(self.width)
        self.score_center, self.score_scale = 0.0, 1.0
        self.trained = False
        self.metrics: dict[str, float] = {}

    def _forward(self, standardized: Any, dropout: float = 0.0) -> Any:
        """Scores (N,) of standardized rows (N, D); dropout p before each Linear when p > 0."""
        import torch

        act: Any = {"silu": torch.nn.functional.silu, "tanh": torch.tanh,
               "relu": torch.relu, "none": lambda x: x}[self.activation]  # fmt: skip
        x = standardized
        for index, layer in enumerate(self.layers):
            if dropout > 0:
                x = torch.nn.functional.dropout(x, dropout, training=True)
            x = layer(x)
            if index < len(self.layers) - 1:
                x = act(x)
        return x.squeeze(-1)

    def _standardize(self, features: np.ndarray) -> Any:
        import torch

        return torch.as_tensor((features - self.center) / self.spread, dtype=torch.float32)

    def score(self, features: Any, standardized: bool = False) -> np.ndarray:
        """r(φ) of each row of ``features`` (N, D), float64 (N,).

        Args:
            features: unstandardized rows, as ``fit`` received them.
            standardized: z-score the scores with :attr:`score_center` and
                :attr:`score_scale` (what :class:`HeadEnsemble` averages).

        Raises:
            ShapeError: ``features`` is not (N, width).
            ModelError: a feature is NaN or infinite.
        """
        import torch

        array = np.asarray(features, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != self.width:
            raise ShapeError(f"features must be (N, {self.width}), got {array.shape}")
        _check_finite(array, "features")
        chunks = []
        with torch.no_grad():
            for begin in range(0, len(array), 65536):
                chunks.append(self._forward(self._standardize(array[begin : begin + 65536])))
        scores = torch.cat(chunks).double().numpy() if chunks else np.zeros(0)
        if standardized:
            scores = (scores - self.score_center) / self.score_scale
        result: np.ndarray = scores
        return result

    def fit(
        self, chosen: Any, rejected: Any, l2: float = 1e-3, epochs: int = 200,
        learning_rate: float = 1e-3, batch_size: int | None = None,
        weighting: Weighting = None, dropout: float | None = None,
        uncertainty_scale: float = 1.0, warmup: float = 0.0,
    ) -> dict[str, float]:  # fmt: skip
        """Fit on pairs of chosen and rejected rows (P, D) by AdamW, seeded (module docs).

        Args:
            chosen, rejected: row i of each is pair i's features.
            l2: λ, the penalty on the squared weights (not the biases), added to the loss.
            epochs: passes over the pairs.
            learning_rate: AdamW's step size.
            batch_size: pairs per step (``None``: full batch, one step per epoch).
            weighting: ``None`` (plain BT) or ``"ctrl_u"`` (Ctrl-U-style weighting).
            dropout: p before each Linear while training (``None``: 0.1 with ``"ctrl_u"``,
                where it makes the two passes differ, else 0).
            uncertainty_scale: s of the Ctrl-U-style loss (0: plain BT on pass 1).
            warmup: share of the steps over which s ramps up from 0 (``"ctrl_u"`` only).

        Returns:
            ``train_loss`` (plain BT loss of the fitted head, no dropout), ``train_accuracy``
            (share of pairs ranked right), ``objective`` (the trained loss averaged over the
            last epoch), ``pairs``, ``steps``; with ``"ctrl_u"`` also ``mean_uncertainty``
            and ``mean_weight`` over the last epoch.

        Raises:
            ShapeError: the arrays are not two equal (P, width) with P >= 1.
            ModelError: a feature is NaN or infinite.
            ConfigurationError: a setting is out of range.
        """
        chosen, rejected = _checked_pairs(chosen, rejected)
        if chosen.shape[1] != self.width:
            raise ShapeError(f"features must be (P, {self.width}), got {chosen.shape}")
        p = dropout if dropout is not None else (0.1 if weighting == "ctrl_u" else 0.0)
        _check_fit_settings(l2, epochs, learning_rate, batch_size, p, uncertainty_scale,
                            warmup, weighting)  # fmt: skip
        plan = _Plan(l2, int(epochs), learning_rate, batch_size, p, weighting,
                     uncertainty_scale, warmup)  # fmt: skip
        both = np.concatenate([chosen, rejected])
        self.center, self.spread = both.mean(0), both.std(0) + 1e-6
        last = self._train(self._standardize(chosen), self._standardize(rejected), plan)
        scores = self.score(both)
        self.score_center, self.score_scale = float(scores.mean()), float(scores.std()) + 1e-12
        margin = scores[: len(chosen)] - scores[len(chosen) :]
        self.trained = True
        self.metrics = {
            "train_loss": float(np.mean(np.logaddexp(0.0, -margin))),
            "train_accuracy": float(np.mean(margin > 0)),
            "pairs": float(len(chosen)),
            **last,
        }
        return self.metrics

    def _train(self, chosen: Any, rejected: Any, plan: _Plan) -> dict[str, float]:
        """The AdamW loop over (P, D) standardized tensors; the last epoch's means."""
        import torch

        count = len(chosen)
        size = min(plan.batch_size or count, count)
        steps = plan.epochs * -(-count // size)
        shuffle = np.random.default_rng(self.seed)
        weights: list[Any] = [layer.weight for layer in self.layers]
        optimizer = torch.optim.AdamW(self.layers.parameters(), lr=plan.learning_rate,
                                      weight_decay=0.0)  # fmt: skip
        step, sums = 0, np.zeros(3)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            for _ in range(plan.epochs):
                order = shuffle.permutation(count) if size < count else np.arange(count)
                sums = np.zeros(3)
                for begin in range(0, count, size):
                    rows = torch.as_tensor(order[begin : begin + size])
                    scale = _warmed(plan.uncertainty_scale, step, steps, plan.warmup)
                    loss, uncertainty, weight = self._batch_loss(
                        chosen[rows], rejected[rows], plan, scale
                    )
                    objective = loss + plan.l2 * sum((w**2).sum() for w in weights)
                    optimizer.zero_grad()
                    objective.backward()
                    optimizer.step()
                    step += 1
                    sums += len(rows) * np.array([float(objective.detach()), uncertainty, weight])
        means = sums / count
        found = {"objective": float(means[0]), "steps": float(steps)}
        if plan.weighting == "ctrl_u":
            found.update(mean_uncertainty=float(means[1]), mean_weight=float(means[2]))
        return found

    def _batch_loss(
        self, chosen: Any, rejected: Any, plan: _Plan, scale: float
    ) -> tuple[Any, float, float]:
        """A batch's mean loss (before L2), mean u and mean weight (0 and 1 for plain BT)."""
        import torch

        def margins() -> Any:
            scores = self._forward(torch.cat([chosen, rejected]), plan.dropout)
            return scores[: len(chosen)] - scores[len(chosen) :]

        if plan.weighting is None:
            return torch.nn.functional.softplus(-margins()).mean(), 0.0, 1.0
        margin_1, margin_2 = margins(), margins()
        loss, weight = ctrl_u_loss(margin_1, margin_2, scale)
        uncertainty = (torch.sigmoid(margin_1) - torch.sigmoid(margin_2)).abs().detach()
        return loss.mean(), float(uncertainty.mean()), float(weight.detach().mean())


@dataclass
class HeadEnsemble:
    """Fitted heads combined by averaging their standardized scores (module docs).

    Member k's score on a row is z_k = (r_k − m_k)/s_k, with m_k and s_k the mean and std
    of r_k on its training rows; ``score`` is the mean of the z_k, ``score_std`` their
    (population) standard deviation, a disagreement signal.

    Args:
        heads: the members, all of one width.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> rejected = rng.normal(size=(32, 2))
        >>> heads = [MLPRewardHead(2, depth=1, seed=s) for s in range(2)]
        >>> for head in heads:
        ...     _ = head.fit(rejected + [1.0, 0.0], rejected, epochs=20, learning_rate=1e-2)
        >>> HeadEnsemble(heads).member_scores(rejected).shape
        (2, 32)
    """

    heads: list[MLPRewardHead] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.heads = list(self.heads)
        if not self.heads:
            raise ConfigurationError("an ensemble needs at least one head")
        widths = {head.width for head in self.heads}
        if len(widths) != 1:
            raise ShapeError(f"the heads read different widths {sorted(widths)}; need one")

    def member_scores(self, features: Any) -> np.ndarray:
        """(K, N): each member's standardized score of each row."""
        return np.stack([head.score(features, standardized=True) for head in self.heads])

    def score(self, features: Any) -> np.ndarray:
        """(N,) the members' mean standardized score."""
        mean: np.ndarray = self.member_scores(features).mean(axis=0)
        return mean

    def score_std(self, features: Any) -> np.ndarray:
        """(N,) the members' spread (population std; 0 for one member)."""
        spread: np.ndarray = self.member_scores(features).std(axis=0)
        return spread


def fit_head_ensemble(
    chosen: Any,
    rejected: Any,
    size: int = 5,
    depth: int = 2,
    hidden: int = 256,
    activation: str = "silu",
    seeds: Sequence[int] | None = None,
    bootstrap: bool = True,
    **fit_options: Any,
) -> HeadEnsemble:
    """Fit ``size`` heads, one per seed (each on a bootstrap resample of the pairs when
    ``bootstrap``, drawn with that seed), into a :class:`HeadEnsemble`.

    Args:
        chosen, rejected: (P, D) features of the pairs.
        size: members.
        depth, hidden, activation: as :class:`MLPRewardHead`.
        seeds: the members' seeds (default 0..size − 1); given, its length must be ``size``.
        bootstrap: resample the P pairs with replacement for each member.
        **fit_options: passed to :meth:`MLPRewardHead.fit` (``l2``, ``epochs``,
            ``weighting``, ...).

    Raises:
        ConfigurationError: ``size`` < 1 or ``seeds`` of another length.
    """
    chosen, rejected = _checked_pairs(chosen, rejected)
    if size < 1:
        raise ConfigurationError(f"an ensemble needs size >= 1 members, got {size}")
    members = list(range(size)) if seeds is None else [int(s) for s in seeds]
    if len(members) != size:
        raise ConfigurationError(f"{len(members)} seeds for an ensemble of size {size}")
    heads = []
    for seed in members:
        rows = np.arange(len(chosen))
        if bootstrap:
            rows = np.random.default_rng(seed).integers(0, len(chosen), len(chosen))
        head = MLPRewardHead(chosen.shape[1], depth, hidden, activation, seed)
        head.fit(chosen[rows], rejected[rows], **fit_options)
        heads.append(head)
    return HeadEnsemble(heads)
