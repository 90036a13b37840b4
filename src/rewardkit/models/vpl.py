"""Variational Preference Learning: a reward conditioned on a latent user type z, which is
inferred from a few of the user's own labelled pairs.

One Bradley–Terry reward fitted to many users' pairs averages their preferences, and
where users disagree the average is no preference at all. VPL (Poddar et al. 2024,
"Personalizing Reinforcement Learning from Human Feedback with Variational Preference
Learning", arXiv 2408.10075; code WEIRDLabUW/vpl_llm) gives each user a latent z with
prior p(z) = N(0, I), an encoder q(z | C) over the user's context C = {(φ(y_w^k),
φ(y_l^k))}_{k=1..K} of labelled pairs, and a decoder reward r(φ, z). Each target pair
(y_w, y_l) of a user, with C drawn from that user's *other* pairs, costs

    L = −log σ(r(φ_w, z) − r(φ_l, z)) + β · KL(q(z | C) ‖ N(0, I)),
    KL = −½ Σ_j (1 + log σ_j² − μ_j² − σ_j²),   z = μ + σ ⊙ ε,  ε ~ N(0, I),

the negative ELBO of the Bradley–Terry likelihood. As in the paper's language-model code
(``hidden_context/vae_utils.py``):

- encoder: each context pair → e_k = MLP([φ_w; φ_l]) (Linear(2D, H)-LeakyReLU(0.2)-
  Linear(H, H)-LeakyReLU(0.2)-Linear(H, Z); the label is the order), single-head scaled
  dot-product self-attention over the K embeddings, a mean over K, then linear heads for
  μ and log σ², **both clamped to [-1, 1]** as that code does;
- decoder: r(φ, z) = MLP([φ; z]) (Linear(D + Z, H)-LeakyReLU(0.2)-Linear(H, H)-
  LeakyReLU(0.2)-Linear(H, 1)), the same for both sides of a pair;
- training draws a fresh context size K in [k_min, k_max] per example (the paper's UF-P-4
  setting) and a fresh context each epoch; z is sampled while training and z = μ at
  evaluation (:meth:`VPLRewardModel.infer_latent`).

The features φ are the caller's, precomputed (e.g. a frozen SmolLM2's, see
:func:`rewardkit.models.frozen_head.hidden_features`), standardized here with the training
rows' mean and spread. Left out versus the paper: the L2 re-normalisation of a sampled z to
radius √Z; the cyclical (cosine) annealing of β (β is constant); the cosine learning-rate
schedule with warm-up (Adam at a constant rate); repeating each target pair with several
resampled contexts in one epoch (a pair gets one context per epoch); "controversial-only"
context selection; the VPL-SPO variant with rewards bounded in [0, 1]; active query
selection; and any fine-tuning of the backbone.

Example:
    >>> rng = np.random.default_rng(0)
    >>> users = np.repeat(np.arange(8), 12)  # even users prefer a larger feature 0, odd smaller
    >>> a, b = rng.normal(size=(2, len(users), 2))
    >>> a_wins = np.where(users % 2 == 0, 1.0, -1.0) * (a[:, 0] - b[:, 0]) > 0
    >>> chosen = np.where(a_wins[:, None], a, b)
    >>> rejected = np.where(a_wins[:, None], b, a)
    >>> model = VPLRewardModel(feature_dim=2, latent_dim=4, hidden=32, seed=0)
    >>> metrics = model.fit(chosen, rejected, users, epochs=60, context_size=(2, 6))
    >>> metrics["train_accuracy"] > 0.9
    True
    >>> probe = np.array([[1.0, 0.0], [-1.0, 0.0]])
    >>> for user in (0, 1):  # each user's z from four of their pairs
    ...     z = model.infer_latent(chosen[users == user][:4], rejected[users == user][:4])
    ...     r = model.score(probe, z)
    ...     print(user, z.shape, bool(r[0] > r[1]))
    0 (4,) True
    1 (4,) False
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.models._common import ModelError

__all__ = ["VPLRewardModel"]

_CLAMP = 1.0  # μ and log σ² are clamped to [-_CLAMP, _CLAMP], as the paper's code does


def _mlp(inputs: int, hidden: int, outputs: int) -> Any:
    """Linear-LeakyReLU(0.2)-Linear-LeakyReLU(0.2)-Linear, the paper's encoder and decoder."""
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(inputs, hidden),
        torch.nn.LeakyReLU(0.2),
        torch.nn.Linear(hidden, hidden),
        torch.nn.LeakyReLU(0.2),
        torch.nn.Linear(hidden, outputs),
    )


def _checked_pairs(
    chosen: Any, rejected: Any, feature_dim: int, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """``chosen`` and ``rejected`` as two equal (N ≥ 1, feature_dim) finite float arrays."""
    chosen_array = np.asarray(chosen, dtype=np.float64)
    rejected_array = np.asarray(rejected, dtype=np.float64)
    if (
        chosen_array.shape != rejected_array.shape
        or chosen_array.ndim != 2
        or chosen_array.shape[1] != feature_dim
        or len(chosen_array) == 0
    ):
        raise ShapeError(
            f"{what}: chosen {chosen_array.shape} and rejected {rejected_array.shape} must be "
            f"two equal (N, {feature_dim}) arrays with N >= 1, one row of features per pair"
        )
    if not (np.isfinite(chosen_array).all() and np.isfinite(rejected_array).all()):
        raise ModelError(f"{what}: a feature is NaN or infinite; drop or repair those pairs")
    return chosen_array, rejected_array


def _user_groups(users: Any, count: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each pair's user index and, per user, its pairs' indices; every user needs two pairs
    (one to predict, at least one as its context)."""
    user_array = np.asarray(users)
    if user_array.shape != (count,):
        raise ShapeError(f"users has shape {user_array.shape}: need one id per pair, ({count},)")
    names, index, counts = np.unique(user_array, return_inverse=True, return_counts=True)
    if (counts < 2).any():
        lonely = names[counts < 2][:5].tolist()
        raise ConfigurationError(
            f"users {lonely} have a single pair: VPL predicts each pair from the same user's "
            "other pairs, so every user needs at least 2; drop those users or add pairs"
        )
    order = np.argsort(index, kind="stable")
    groups = np.split(order, np.cumsum(counts)[:-1])
    return index, groups


def _checked_settings(
    context_size: tuple[int, int], epochs: int, batch_size: int, learning_rate: float
) -> tuple[int, int]:
    """``context_size`` as two whole numbers 1 <= k_min <= k_max, once every setting of a fit
    is checked."""
    low, high = context_size
    if not 1 <= low <= high or int(low) != low or int(high) != high:
        raise ConfigurationError(
            f"context_size must be (k_min, k_max), whole numbers with 1 <= k_min <= k_max; "
            f"got {context_size}"
        )
    if epochs < 1 or batch_size < 1 or not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ConfigurationError(
            f"need epochs >= 1, batch_size >= 1 and a positive learning_rate; got "
            f"{epochs}, {batch_size}, {learning_rate}"
        )
    return int(low), int(high)


class VPLRewardModel:
    """r(φ, z) with z ~ q(z | C) from a user's labelled pairs (see the module docs).

    Args:
        feature_dim: D, the width of each feature vector φ.
        latent_dim: Z, the width of the user latent z.
        hidden: H, the width of the encoder's and decoder's hidden layers.
        kl_weight: β, the weight of KL(q(z | C) ‖ N(0, I)) in the loss.
        seed: seeds the initial weights (without touching torch's global random stream) and
            is the default seed of :meth:`fit`.
    """

    def __init__(
        self,
        feature_dim: int,
        latent_dim: int = 16,
        hidden: int = 64,
        kl_weight: float = 1e-3,
        seed: int = 0,
    ) -> None:
        import torch

        sizes = {"feature_dim": feature_dim, "latent_dim": latent_dim, "hidden": hidden}
        for name, value in sizes.items():
            if int(value) != value or value < 1:
                raise ConfigurationError(f"{name} must be a whole number >= 1, got {value}")
        if not (math.isfinite(kl_weight) and kl_weight >= 0):
            raise ConfigurationError(f"kl_weight must be finite and >= 0, got {kl_weight}")
        self.feature_dim, self.latent_dim = int(feature_dim), int(latent_dim)
        self.kl_weight, self.seed = float(kl_weight), int(seed)
        with torch.random.fork_rng(devices=[]):  # the caller's random stream goes on untouched
            torch.manual_seed(seed)
            self.encoder = torch.nn.ModuleDict(
                {
                    "pair": _mlp(2 * self.feature_dim, hidden, self.latent_dim),
                    "query": torch.nn.Linear(self.latent_dim, self.latent_dim),
                    "key": torch.nn.Linear(self.latent_dim, self.latent_dim),
                    "value": torch.nn.Linear(self.latent_dim, self.latent_dim),
                    "mu": torch.nn.Linear(self.latent_dim, self.latent_dim),
                    "logvar": torch.nn.Linear(self.latent_dim, self.latent_dim),
                }
            )
            self.decoder = _mlp(self.feature_dim + self.latent_dim, hidden, 1)
        self.center = np.zeros(self.feature_dim)
        self.spread = np.ones(self.feature_dim)
        self.trained = False

    def _tensor(self, features: np.ndarray) -> Any:
        """Standardized float32 features."""
        import torch

        return torch.from_numpy(((features - self.center) / self.spread).astype(np.float32))

    def _encode(self, context_w: Any, context_l: Any, mask: Any) -> tuple[Any, Any]:
        """(μ, log σ²), each (B, Z), of q(z | C) for contexts (B, K, D) with a (B, K) mask."""
        import torch

        parts = self.encoder
        embedded = parts["pair"](torch.cat([context_w, context_l], dim=-1))
        query, key, value = (parts[n](embedded) for n in ("query", "key", "value"))
        scores = query @ key.transpose(1, 2) / math.sqrt(self.latent_dim)
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
        attended = torch.softmax(scores, dim=-1) @ value
        weights = mask.to(attended.dtype)[..., None]
        pooled = (attended * weights).sum(1) / weights.sum(1)
        mu = parts["mu"](pooled).clamp(-_CLAMP, _CLAMP)
        logvar = parts["logvar"](pooled).clamp(-_CLAMP, _CLAMP)
        return mu, logvar

    def _reward(self, features: Any, z: Any) -> Any:
        """r(φ, z) of (B, D) features under (B, Z) latents, shape (B,)."""
        import torch

        return self.decoder(torch.cat([features, z], dim=-1)).squeeze(-1)

    def _contexts(
        self,
        rng: np.random.Generator,
        targets: np.ndarray,
        index: np.ndarray,
        groups: list[np.ndarray],
        context_size: tuple[int, int],
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each target pair, K in [k_min, k_max] (at most the user's other pairs) of its
        user's other pairs: (B, 1 + k_max) indices, the target's and then its context's, and
        the (B, k_max) mask of the context's valid entries."""
        low, high = context_size
        rows = np.zeros((len(targets), 1 + high), dtype=np.int64)
        rows[:, 0] = targets
        mask = np.zeros((len(targets), high), dtype=bool)
        for row, target in enumerate(targets):
            group = groups[index[target]]
            others = group[group != target]
            size = min(int(rng.integers(low, high + 1)), len(others))
            rows[row, 1 : 1 + size] = rng.choice(others, size=size, replace=False)
            mask[row, :size] = True
        return rows, mask

    def _batch_loss(
        self, chosen: Any, rejected: Any, rows: np.ndarray, mask: np.ndarray, sample: Any
    ) -> tuple[Any, Any, Any]:
        """Per-example Bradley–Terry loss, KL and margin r(φ_w, z) − r(φ_l, z) for targets
        ``rows[:, 0]`` with contexts ``rows[:, 1:]``; ``sample`` is a torch generator for the
        reparameterised z, or None for z = μ."""
        import torch

        context = torch.from_numpy(rows[:, 1:])
        mu, logvar = self._encode(chosen[context], rejected[context], torch.from_numpy(mask))
        z = mu
        if sample is not None:
            noise = torch.randn(mu.shape, generator=sample, dtype=mu.dtype)
            z = mu + torch.exp(0.5 * logvar) * noise
        target = torch.from_numpy(rows[:, 0])
        margin = self._reward(chosen[target], z) - self._reward(rejected[target], z)
        kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(-1)
        return -torch.nn.functional.logsigmoid(margin), kl, margin

    def _step(
        self, optimizer: Any, pairs: tuple[Any, Any], rows: np.ndarray, mask: np.ndarray, noise: Any
    ) -> tuple[float, float]:
        """One Adam step on the mean of −log σ(margin) + β·KL over a batch of targets with
        their contexts (see :meth:`_batch_loss`); the batch's mean loss and mean KL."""
        nll, kl, _ = self._batch_loss(*pairs, rows, mask, noise)
        loss = (nll + self.kl_weight * kl).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return float(loss.detach()), float(kl.detach().mean())

    def fit(
        self,
        chosen: Any,
        rejected: Any,
        users: Any,
        epochs: int = 50,
        context_size: tuple[int, int] = (2, 8),
        learning_rate: float = 1e-3,
        batch_size: int = 64,
        seed: int | None = None,
    ) -> dict[str, float]:
        """Train encoder and decoder on pairs labelled by many users (Adam, shuffled
        mini-batches of target pairs, each with a fresh context from its own user).

        Training continues from the current weights; the standardization is set from these
        pairs' rows on the first call only.

        Args:
            chosen: (P, D) features of each pair's preferred side.
            rejected: (P, D) features of each pair's other side.
            users: (P,) the id of the user who labelled each pair (any hashable scalars);
                each user needs at least 2 pairs.
            epochs: passes over the target pairs.
            context_size: (k_min, k_max), the range of a context's number of pairs, drawn per
                example (capped at the user's other pairs).
            learning_rate: Adam's step size.
            batch_size: target pairs per step.
            seed: the shuffling, context and z-sampling seed (default: the model's).

        Returns:
            ``train_loss`` (the last epoch's mean loss, KL term included), ``train_kl`` (its
            mean KL), ``train_accuracy`` (the share of pairs ordered right with z = μ from a
            fresh context of each, after training), ``pairs``, ``users``.

        Raises:
            ShapeError: the arrays are not two equal (P, D) and a (P,).
            ModelError: a feature is NaN or infinite.
            ConfigurationError: a user has a single pair, or a setting is out of range.
        """
        import torch

        chosen_array, rejected_array = _checked_pairs(chosen, rejected, self.feature_dim, "fit")
        index, groups = _user_groups(users, len(chosen_array))
        sizes = _checked_settings(context_size, epochs, batch_size, learning_rate)
        if not self.trained:
            both = np.concatenate([chosen_array, rejected_array])
            self.center, self.spread = both.mean(0), both.std(0) + 1e-6
        seed = self.seed if seed is None else int(seed)
        rng, generator = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
        chosen_t, rejected_t = self._tensor(chosen_array), self._tensor(rejected_array)
        parameters = [*self.encoder.parameters(), *self.decoder.parameters()]
        optimizer = torch.optim.Adam(parameters, lr=learning_rate)
        for _ in range(int(epochs)):
            order = rng.permutation(len(chosen_array))
            total_loss = total_kl = 0.0
            for begin in range(0, len(order), int(batch_size)):
                targets = order[begin : begin + int(batch_size)]
                rows, mask = self._contexts(rng, targets, index, groups, sizes)
                loss, kl = self._step(optimizer, (chosen_t, rejected_t), rows, mask, generator)
                total_loss += loss * len(targets)
                total_kl += kl * len(targets)
        self.trained = True
        targets = np.arange(len(chosen_array))
        rows, mask = self._contexts(rng, targets, index, groups, sizes)
        with torch.no_grad():
            _, _, margin = self._batch_loss(chosen_t, rejected_t, rows, mask, None)
        return {
            "train_loss": total_loss / len(chosen_array),
            "train_kl": total_kl / len(chosen_array),
            "train_accuracy": float((margin > 0).double().mean()),
            "pairs": float(len(chosen_array)),
            "users": float(len(groups)),
        }

    def infer_latent(self, chosen: Any, rejected: Any) -> np.ndarray:
        """μ of q(z | C) for one user's context C of K ≥ 1 labelled pairs: (K, D) features
        of the preferred and the other sides. Returns a (Z,) float array.

        Raises:
            ShapeError: the arrays are not two equal (K, D).
            ModelError: a feature is NaN or infinite.
        """
        import torch

        context_w, context_l = _checked_pairs(chosen, rejected, self.feature_dim, "context")
        mask = torch.ones((1, len(context_w)), dtype=torch.bool)
        with torch.no_grad():
            mu, _ = self._encode(self._tensor(context_w)[None], self._tensor(context_l)[None], mask)
        result: np.ndarray = mu[0].double().numpy()
        return result

    def score(self, features: Any, latent: Any) -> np.ndarray:
        """r(φ, z) of each row of (N, D) ``features`` under one (Z,) ``latent``; shape (N,).

        Raises:
            ShapeError: the features are not (N, D) or the latent is not (Z,).
            ModelError: a feature or the latent is NaN or infinite.
        """
        import torch

        array = np.asarray(features, dtype=np.float64)
        z = np.asarray(latent, dtype=np.float32)
        if array.ndim != 2 or array.shape[1] != self.feature_dim:
            raise ShapeError(f"features {array.shape}: need (N, {self.feature_dim})")
        if z.shape != (self.latent_dim,):
            raise ShapeError(f"latent {z.shape}: need ({self.latent_dim},), from infer_latent")
        if not (np.isfinite(array).all() and np.isfinite(z).all()):
            raise ModelError("a feature or the latent is NaN or infinite")
        with torch.no_grad():
            latents = torch.from_numpy(z)[None].expand(len(array), -1)
            rewards = self._reward(self._tensor(array), latents)
        result: np.ndarray = rewards.double().numpy()
        return result

    def pair_accuracy(
        self, chosen: Any, rejected: Any, context_chosen: Any, context_rejected: Any
    ) -> float:
        """The share of (N, D) pairs where r(φ_w, μ) > r(φ_l, μ), μ inferred from one user's
        (K, D) context pairs: how well the model predicts a user it met only through them."""
        chosen_array, rejected_array = _checked_pairs(chosen, rejected, self.feature_dim, "pairs")
        latent = self.infer_latent(context_chosen, context_rejected)
        margin = self.score(chosen_array, latent) - self.score(rejected_array, latent)
        return float(np.mean(margin > 0))
