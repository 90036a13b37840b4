"""CIP-style causal information prioritization: which state and action dimensions cause
the reward, a counterfactual augmentation that keeps them, and an empowerment bonus that
weights actions by them.

CIP (Cao et al. 2025, "Causal Information Prioritization for Efficient Reinforcement
Learning") fits a linear non-Gaussian acyclic model (DirectLiNGAM) to recent transitions
X = [s | a | r] and reads the reward's row of the adjacency matrix B
(x_i = Σ_j B_ij x_j + e_i): B[r, j] is dimension j's direct effect on the reward. Weights
over the n state (or action) dimensions are a softmax scaled to sum to n,

    w_j = n · exp(c_j) / Σ_k exp(c_k),   c_j = |B[r, j]|   (the authors' code: B[r, j]),

so a dimension with no edge gets less than the uniform share 1 when others have one.

* :func:`causal_reward_weights` fits causal-learn's DirectLiNGAM (the one CIP's code
  ships) and returns both weight vectors.
* :func:`counterfactual_swap` pairs transitions at random and swaps, between the two, the
  state dimensions whose weight is below ``threshold`` (no direct effect on the reward),
  in s and s' alike; actions, rewards and ends are kept. Every swapped transition is
  still consistent with the reward's causal parents.
* :class:`CausalEmpowermentBonus` (``causal_empowerment``) learns an inverse-dynamics
  model q(a | s, s') and pays the one-sample lower bound of the empowerment
  I(a; s' | s) ≥ E[log q(a | s, s') − log p(a | s)], with p the policy's (a ``log_prob``
  column) or else a uniform prior (discrete actions, |A| of them) or a standard normal
  per dimension; for factored continuous actions each dimension's log-likelihood is
  weighted by its causal weight, Σ_i w_i log q(a_i | s, s').

Ours, not CIP's: CIP trains SAC and puts its empowerment term in the actor's loss, with
the causal weights on the policy's per-dimension log-probabilities; here the same
quantity is an intrinsic reward any trainer can add. In the authors' released code the
augmented transitions feed only the next causal fit, the weight softmax is over signed
coefficients (``signed=True`` here) and the dimension swapped is argmin_j w_j s_j of each
transition; here the swap is of every non-causal dimension. Hence "CIP-style".

Example:
    >>> rng = np.random.default_rng(0)
    >>> s = rng.uniform(-1, 1, size=(2000, 3)); a = rng.uniform(-1, 1, size=(2000, 1))
    >>> r = 2 * s[:, 0] - 1.5 * a[:, 0] + 0.1 * rng.uniform(-1, 1, 2000)
    >>> weights = causal_reward_weights(s, a, r)
    >>> [round(float(w), 2) for w in weights.state], round(float(weights.action[0]), 2)
    ([2.36, 0.32, 0.32], 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardkit.core.batch import Batch, get_column
from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.core.output import FloatArray
from rewardkit.core.registry import register
from rewardkit.core.term import RewardTerm

__all__ = [
    "CausalEmpowermentBonus",
    "CausalWeights",
    "causal_reward_weights",
    "counterfactual_swap",
    "scaled_softmax",
]


@dataclass(frozen=True)
class CausalWeights:
    """Per-dimension weights (each vector sums to its length) and the fitted B."""

    state: FloatArray
    action: FloatArray
    adjacency: FloatArray


def scaled_softmax(coefficients: FloatArray) -> FloatArray:
    """n · softmax(c): weights that sum to n, 1 each when all c are equal.

    Example:
        >>> scaled_softmax(np.array([0.0, 0.0])).tolist()
        [1.0, 1.0]
    """
    c = np.asarray(coefficients, dtype=np.float64)
    e = np.exp(c - c.max())
    weights: FloatArray = len(c) * e / e.sum()
    return weights


def _matrix(values: Any, rows: int, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    array = array.reshape(len(array), -1) if array.ndim != 2 else array
    if len(array) != rows:
        raise ShapeError(f"{name} has {len(array)} rows; expected {rows}")
    if not np.isfinite(array).all():
        raise ShapeError(f"{name} holds NaN or infinite values")
    return array


def causal_reward_weights(
    states: Any, actions: Any, rewards: Any, *, signed: bool = False, random_state: int = 0
) -> CausalWeights:
    """DirectLiNGAM on [s | a | r]; weights from the reward's row (see the module).

    Args:
        states: (N, S) states (or any per-transition features).
        actions: (N, A) actions (continuous, or one-hot for discrete ones).
        rewards: (N,) rewards.
        signed: softmax over the signed coefficients, as the authors' code does (a
            negative effect then weighs less than no effect); default: their magnitudes.
        random_state: DirectLiNGAM's seed.

    Needs ``causal-learn`` (the ``control`` extra).
    """
    try:
        from causallearn.search.FCMBased.lingam import DirectLiNGAM
    except ImportError as error:  # pragma: no cover - the extra is installed in tests
        raise ConfigurationError(
            "causal_reward_weights needs causal-learn: pip install 'rewardkit[control]'"
        ) from error
    r = np.asarray(rewards, dtype=np.float64).reshape(-1)
    s = _matrix(states, len(r), "states")
    a = _matrix(actions, len(r), "actions")
    if not np.isfinite(r).all():
        raise ShapeError("rewards hold NaN or infinite values")
    if len(r) < 10:
        raise ShapeError(f"need at least 10 transitions to fit a causal model, got {len(r)}")
    x = np.concatenate([s, a, r[:, None]], axis=1)
    model = DirectLiNGAM(random_state=random_state)
    model.fit(x)
    adjacency = np.asarray(model.adjacency_matrix_, dtype=np.float64)
    row = adjacency[-1] if signed else np.abs(adjacency[-1])
    n_s = s.shape[1]
    return CausalWeights(
        scaled_softmax(row[:n_s]), scaled_softmax(row[n_s : n_s + a.shape[1]]), adjacency
    )


def counterfactual_swap(
    states: Any,
    next_states: Any,
    state_weights: Any,
    rng: np.random.Generator,
    *,
    threshold: float = 1.0,
) -> tuple[FloatArray, FloatArray]:
    """Counterfactual copies of (s, s'): pair transitions at random and swap, within each
    pair, the dimensions whose weight is below ``threshold``, in s and s' alike.

    Actions, rewards and episode ends go with the transition unchanged; with an odd
    count the last unpaired transition is copied as it is.

    Example:
        >>> s = np.array([[1.0, 10.0], [2.0, 20.0]]); s2 = s + 0.5
        >>> new, new_next = counterfactual_swap(s, s2, [1.9, 0.1], np.random.default_rng(0))
        >>> new.tolist(), new_next.tolist()
        ([[1.0, 20.0], [2.0, 10.0]], [[1.5, 20.5], [2.5, 10.5]])
    """
    s = _matrix(states, len(np.asarray(states)), "states")
    s_next = _matrix(next_states, len(s), "next_states")
    weights = np.asarray(state_weights, dtype=np.float64).reshape(-1)
    if weights.shape != (s.shape[1],) or s_next.shape != s.shape:
        raise ShapeError(
            f"states {s.shape}, next_states {s_next.shape} and weights {weights.shape} disagree"
        )
    swap = weights < threshold
    order = rng.permutation(len(s))
    half = len(s) // 2
    first, second = order[:half], order[half : 2 * half]
    new, new_next = s.copy(), s_next.copy()
    for array, source in ((new, s), (new_next, s_next)):
        array[np.ix_(first, swap)] = source[np.ix_(second, swap)]
        array[np.ix_(second, swap)] = source[np.ix_(first, swap)]
    return new, new_next


@register("causal_empowerment")
class CausalEmpowermentBonus(RewardTerm):
    """Σ_i w_i log q(a_i | s, s') − log p(a | s): an inverse-dynamics empowerment bonus.

    Reads ``obs``, ``actions`` and ``next_obs``, and ``log_prob`` (the policy's, per
    transition) when present. Discrete actions (``actions`` integer, ``num_actions``
    given): q is a softmax and p uniform unless ``log_prob`` is given. Continuous actions
    (``action_dim`` given): q is a factored Gaussian with a learned mean and one learned
    std per dimension, p a standard normal per dimension (weighted alike) unless
    ``log_prob`` is given, and ``action_weights`` (from :func:`causal_reward_weights`)
    weight each dimension's log-likelihood. ``update`` fits q on the batch.
    """

    columns = ("obs", "actions", "next_obs")

    def __init__(
        self,
        num_actions: int | None = None,
        action_dim: int | None = None,
        action_weights: Any = None,
        hidden: int = 64,
        learning_rate: float = 1e-3,
        seed: int = 0,
        name: str = "causal_empowerment",
    ) -> None:
        super().__init__(name)
        if (num_actions is None) == (action_dim is None):
            raise ConfigurationError("give exactly one of num_actions (discrete) or action_dim")
        if num_actions is not None and num_actions < 2:
            raise ConfigurationError(f"num_actions must be >= 2, got {num_actions}")
        if action_dim is not None and action_dim < 1:
            raise ConfigurationError(f"action_dim must be >= 1, got {action_dim}")
        self.num_actions, self.action_dim = num_actions, action_dim
        dims = action_dim or 1
        weights = np.ones(dims) if action_weights is None else np.asarray(action_weights, float)
        if weights.shape != (dims,) or not np.isfinite(weights).all():
            raise ConfigurationError(f"action_weights must be {dims} finite numbers")
        self.action_weights = weights
        self.hidden, self.learning_rate, self.seed = hidden, learning_rate, seed
        self._model: Any = None

    def _build(self, obs_dim: int) -> None:
        import torch
        from torch import nn

        torch.manual_seed(self.seed)
        outputs = self.num_actions if self.num_actions is not None else self.action_dim
        assert outputs is not None
        self._model = nn.Sequential(
            nn.Linear(2 * obs_dim, self.hidden), nn.Tanh(),
            nn.Linear(self.hidden, self.hidden), nn.Tanh(),
            nn.Linear(self.hidden, outputs),
        )  # fmt: skip
        self._log_std = nn.Parameter(torch.zeros(outputs))
        self._optimizer = torch.optim.Adam(
            [*self._model.parameters(), self._log_std], lr=self.learning_rate
        )
        self._obs_dim = obs_dim

    def _tensors(self, batch: Batch) -> tuple[Any, Any]:
        import torch

        obs = np.asarray(get_column(batch, "obs"), dtype=np.float32)
        nxt = np.asarray(get_column(batch, "next_obs"), dtype=np.float32)
        obs, nxt = obs.reshape(len(obs), -1), nxt.reshape(len(nxt), -1)
        if obs.shape != nxt.shape:
            raise ShapeError(f"obs {obs.shape} and next_obs {nxt.shape} disagree")
        if self._model is None:
            self._build(obs.shape[1])
        elif obs.shape[1] != self._obs_dim:
            raise ShapeError(f"observations have {obs.shape[1]} values; expected {self._obs_dim}")
        return torch.as_tensor(np.concatenate([obs, nxt], 1)), self._actions(batch, len(obs))

    def _actions(self, batch: Batch, rows: int) -> Any:
        import torch

        raw = np.asarray(get_column(batch, "actions"))
        if self.num_actions is not None:
            actions = raw.reshape(-1)
            if len(actions) != rows or not np.isin(actions, range(self.num_actions)).all():
                raise ShapeError(f"actions must be {rows} integers in [0, {self.num_actions})")
            return torch.as_tensor(actions.astype(np.int64))
        values = raw.astype(np.float32).reshape(rows, -1)
        if values.shape[1] != self.action_dim:
            raise ShapeError(
                f"actions have {values.shape[1]} dimensions; expected {self.action_dim}"
            )
        return torch.as_tensor(values)

    def _log_likelihoods(self, inputs: Any, actions: Any) -> Any:
        """(N, dims) log q per action dimension."""
        import torch

        out = self._model(inputs)
        if self.num_actions is not None:
            return torch.log_softmax(out, -1).gather(1, actions[:, None])
        normal = torch.distributions.Normal(out, self._log_std.exp())
        return normal.log_prob(actions)  # type: ignore[no-untyped-call]

    def _log_prior(self, batch: Batch, actions: Any) -> FloatArray:
        """(N,) log p(a | s): the batch's ``log_prob`` (the policy's, whole action), or
        the uniform prior (discrete) or the causally weighted standard normal."""
        if "log_prob" in batch:
            given = np.asarray(get_column(batch, "log_prob"), dtype=np.float64).reshape(-1)
            if given.shape != (len(actions),) or not np.isfinite(given).all():
                raise ShapeError(f"log_prob must be {len(actions)} finite numbers")
            return given
        if self.num_actions is not None:
            return np.full(len(actions), -np.log(self.num_actions))
        a = actions.numpy().astype(np.float64)
        prior: FloatArray = (-0.5 * a**2 - 0.5 * np.log(2 * np.pi)) @ self.action_weights
        return prior

    def _compute(self, batch: Batch) -> FloatArray:
        import torch

        inputs, actions = self._tensors(batch)
        with torch.no_grad():
            log_q = self._log_likelihoods(inputs, actions).numpy().astype(np.float64)
        bonus: FloatArray = log_q @ self.action_weights - self._log_prior(batch, actions)
        return bonus

    def update(self, batch: Batch, epochs: int = 1) -> dict[str, float]:
        """Fit q by maximum likelihood on the batch's finite rows (a row with NaN or an
        infinite value is left out, and counted); returns the last epoch's loss."""
        inputs, actions = self._tensors(batch)
        finite = inputs.isfinite().all(1)
        if actions.is_floating_point():
            finite &= actions.isfinite().all(1)
        skipped = int((~finite).sum())
        inputs, actions = inputs[finite], actions[finite]
        loss_value = float("nan")
        if len(inputs) == 0:
            epochs = 0
        for _ in range(epochs):
            loss = -self._log_likelihoods(inputs, actions).sum(-1).mean()
            self._optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self._optimizer.step()
            loss_value = float(loss.detach())
        return {f"{self.name}/inverse_nll": loss_value, f"{self.name}/skipped": float(skipped)}
