"""A POLAR-style reward head: policy-discriminative pretraining, then preference
fine-tuning, on precomputed feature vectors.

POLAR (Dou et al. 2025, "Pre-trained Policy Discriminators are General Reward Models",
arXiv:2507.05197) recasts a reward model as a *policy discriminator*: r(x, y_ref, y)
scores how likely a candidate y comes from the same policy as a reference y_ref for the
prompt x. Pretraining needs no labels: for a prompt x, two trajectories of one policy
(the anchor, used as the reference, and a positive) and one of another policy (a
negative) give the Bradley–Terry loss

    L = −log σ(r(x, y_a, y⁺) − r(x, y_a, y⁻)) = softplus(−(r(x, y_a, y⁺) − r(x, y_a, y⁻))).

Fine-tuning keeps the same loss on labelled triples (prompt, reference = a good answer,
chosen, rejected), with the chosen answer as the positive; at use the reward of a policy
output y is r(x, y_ref, y).

Here r reads two feature vectors φ_ref, φ_cand ∈ R^D of (prompt, answer) texts (a frozen
backbone's, e.g. :meth:`rewardkit.models.FrozenHeadRewardModel.features`; the prompt is
in them), standardized with training statistics, φ̂ = (φ − μ)/σ, projected by one shared
Linear P: R^D → R^p, and scored by an MLP over their symmetric and asymmetric matchings:

    a = P φ̂_ref,  b = P φ̂_cand,
    r(φ_ref, φ_cand) = w₂ · SiLU(W₁ [a; b; a ⊙ b; |a − b|] + b₁) + b₂.

What this is not (hence "POLAR-style"): the paper's RM is a full 1.8B–7B transformer
reading the concatenated prompt, reference and candidate text and trained end to end;
here a small head reads a *frozen* backbone's features of each answer separately. The
paper's policy pool is 184 LLMs of many families and sizes (base and chat), ours a few
sampling settings of one model (the rm-lab benchmark's policy zoo); the paper's scaling
study (power laws over model size and compute) and its use of the RM in reinforcement
fine-tuning (RFT) are not reproduced.

Example:
    >>> rng = np.random.default_rng(0)
    >>> policy = np.repeat(np.arange(3), 40)  # 3 policies x 10 prompts x 4 samples
    >>> prompt = np.tile(np.repeat(np.arange(10), 4), 3)
    >>> offsets = 2.0 * rng.normal(size=(3, 6))
    >>> features = offsets[policy] + rng.normal(size=(120, 6))
    >>> triples = policy_discrimination_triples(policy, prompt, count=512, rng=rng)
    >>> head, losses = pretrain_policy_discriminator(features, triples, projection=8,
    ...                                              hidden=16, epochs=30)
    >>> losses[-1] < losses[0], head.pair_accuracy(*(features[triples.T])) > 0.9
    (True, True)
    >>> tuned, _ = fine_tune_on_preferences(head, features[:4], features[4:8],
    ...                                     features[8:12], epochs=5)
    >>> tuned is head, tuned.score(features[0], features[:3]).shape
    (False, (3,))
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.models._common import ModelError

__all__ = [
    "PolarStyleHead",
    "fine_tune_on_preferences",
    "policy_discrimination_triples",
    "pretrain_policy_discriminator",
]


def policy_discrimination_triples(
    policy_ids: Any, prompt_ids: Any, *, count: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw ``count`` (anchor, positive, negative) row triples for policy discrimination.

    The anchor is drawn uniformly among the rows that can anchor a triple; the positive
    uniformly among the *other* rows of the same prompt and the same policy; the negative
    uniformly among the rows of the same prompt and another policy.

    Args:
        policy_ids: (N,) which policy produced each row (any hashable scalars).
        prompt_ids: (N,) which prompt each row answers.
        count: triples to draw (with replacement).
        rng: the random generator.

    Returns:
        an int64 array of shape (count, 3): row indices (anchor, positive, negative).

    Raises:
        ShapeError: the ids are not two equal 1-D arrays.
        ConfigurationError: ``count`` is not a whole number >= 1, or no row has both a
            same-policy and an other-policy row for its prompt (no triple can be formed).

    Example:
        >>> triples = policy_discrimination_triples([0, 0, 1], [5, 5, 5], count=8,
        ...                                         rng=np.random.default_rng(0))
        >>> triples.shape, sorted(set(map(tuple, triples.tolist())))
        ((8, 3), [(0, 1, 2), (1, 0, 2)])
    """
    policies, prompts = np.asarray(policy_ids), np.asarray(prompt_ids)
    if policies.ndim != 1 or policies.shape != prompts.shape:
        raise ShapeError(
            f"policy_ids {policies.shape} and prompt_ids {prompts.shape}: need two equal 1-D "
            "arrays, one policy id and one prompt id per row"
        )
    if isinstance(count, bool) or int(count) != count or count < 1:
        raise ConfigurationError(f"count must be a whole number >= 1, got {count}")
    _, policy_index = np.unique(policies, return_inverse=True)
    _, prompt_index = np.unique(prompts, return_inverse=True)
    positives: list[np.ndarray] = []
    negatives: list[np.ndarray] = []
    anchors: list[int] = []
    for prompt in np.unique(prompt_index):
        rows = np.flatnonzero(prompt_index == prompt)
        for row in rows:
            same = rows[(policy_index[rows] == policy_index[row]) & (rows != row)]
            other = rows[policy_index[rows] != policy_index[row]]
            if len(same) and len(other):
                anchors.append(int(row))
                positives.append(same)
                negatives.append(other)
    if not anchors:
        raise ConfigurationError(
            "no triple can be formed: no row has another row of the same prompt and policy "
            "and a row of the same prompt and another policy; sample each prompt at least "
            "twice under one policy and at least once under another"
        )
    picks = rng.integers(0, len(anchors), size=int(count))
    triples = np.empty((int(count), 3), dtype=np.int64)
    for i, pick in enumerate(picks):
        triples[i] = (
            anchors[pick],
            positives[pick][rng.integers(len(positives[pick]))],
            negatives[pick][rng.integers(len(negatives[pick]))],
        )
    return triples


def _checked_rows(features: Any, width: int | None, name: str) -> np.ndarray:
    """``features`` as a finite float64 (N, width) array (any width when ``width`` is None)."""
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2 or (width is not None and array.shape[1] != width):
        wanted = "D" if width is None else str(width)
        raise ShapeError(f"{name} must be a 2-D (N, {wanted}) array, got shape {array.shape}")
    if not np.isfinite(array).all():
        rows = np.flatnonzero(~np.isfinite(array).all(axis=1))
        raise ModelError(
            f"{name} has NaN or infinite features in {len(rows)} row(s) (first: {rows[:5]}); "
            "drop or repair those rows before fitting or scoring"
        )
    return array


def _check_settings(
    epochs: int, learning_rate: float, batch_size: int | None, decay: float
) -> None:
    if isinstance(epochs, bool) or int(epochs) != epochs or epochs < 1:
        raise ConfigurationError(f"epochs must be a whole number >= 1, got {epochs}")
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ConfigurationError(f"learning_rate must be positive, got {learning_rate}")
    if batch_size is not None and (int(batch_size) != batch_size or batch_size < 1):
        raise ConfigurationError(f"batch_size must be None (full batch) or >= 1, got {batch_size}")
    if not (math.isfinite(decay) and decay >= 0):
        raise ConfigurationError(f"weight_decay must be finite and >= 0, got {decay}")


class PolarStyleHead:
    """r(φ_ref, φ_cand): how alike the policies behind a reference and a candidate look
    (module docs). A plain class holding its torch modules (``network``), as the other
    feature heads do, so that importing it does not import torch.

    Args:
        width: D, the features per row.
        projection: p, the width of the shared projection of both inputs.
        hidden: the width of the MLP's hidden layer.
        seed: seeds the initialization and is the default seed of :meth:`fit`; torch's
            global random stream is left as it was.

    Attributes:
        center, spread: μ and σ of the standardization (0 and 1 until the first ``fit``,
            which sets them from its rows; later fits keep them).
        trained: whether ``fit`` ran.
    """

    def __init__(self, width: int, projection: int = 64, hidden: int = 64, seed: int = 0) -> None:
        import torch

        for name, value in {"width": width, "projection": projection, "hidden": hidden}.items():
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ConfigurationError(f"{name} must be a whole number >= 1, got {value}")
        self.width, self.projection, self.hidden = int(width), int(projection), int(hidden)
        self.seed = int(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.network = torch.nn.ModuleDict(
                {
                    "project": torch.nn.Linear(self.width, self.projection),
                    "mix": torch.nn.Linear(4 * self.projection, self.hidden),
                    "out": torch.nn.Linear(self.hidden, 1),
                }
            )
        self.center, self.spread = np.zeros(self.width), np.ones(self.width)
        self.trained = False

    def _tensor(self, features: np.ndarray) -> Any:
        import torch

        return torch.as_tensor((features - self.center) / self.spread, dtype=torch.float32)

    def _forward(self, reference: Any, candidate: Any) -> Any:
        """r of standardized (N, D) tensors, shape (N,)."""
        import torch

        a = self.network["project"](reference)
        b = self.network["project"](candidate)
        mixed = self.network["mix"](torch.cat([a, b, a * b, (a - b).abs()], dim=-1))
        return self.network["out"](torch.nn.functional.silu(mixed)).squeeze(-1)

    def _pair(self, reference: Any, candidates: Any) -> tuple[np.ndarray, np.ndarray]:
        """Checked (N, D) arrays; a single (D,) reference is repeated N times."""
        candidate_array = _checked_rows(candidates, self.width, "candidates")
        reference_array = np.asarray(reference, dtype=np.float64)
        if reference_array.ndim == 1:
            reference_array = np.broadcast_to(reference_array, candidate_array.shape)
        reference_array = _checked_rows(reference_array, self.width, "reference")
        if len(reference_array) != len(candidate_array):
            raise ShapeError(
                f"reference has {len(reference_array)} rows and candidates "
                f"{len(candidate_array)}: give one reference per candidate, or one (D,) row"
            )
        return reference_array, candidate_array

    def score(self, reference: Any, candidates: Any) -> np.ndarray:
        """r(φ_ref,i, φ_cand,i) per row, float64 (N,).

        Args:
            reference: (N, D) unstandardized reference rows, or one (D,) row for all.
            candidates: (N, D) unstandardized candidate rows.

        Raises:
            ShapeError: the arrays are not (N, width) (or (width,) for the reference).
            ModelError: a feature is NaN or infinite.
        """
        import torch

        reference_array, candidate_array = self._pair(reference, candidates)
        with torch.no_grad():
            scores = self._forward(self._tensor(reference_array), self._tensor(candidate_array))
        result: np.ndarray = scores.double().numpy()
        return result

    def loss(self, reference: Any, chosen: Any, rejected: Any) -> float:
        """The mean Bradley–Terry loss softplus(−(r(ref, chosen) − r(ref, rejected)))."""
        margin = self.score(reference, chosen) - self.score(reference, rejected)
        return float(np.mean(np.logaddexp(0.0, -margin)))

    def pair_accuracy(self, reference: Any, chosen: Any, rejected: Any) -> float:
        """The share of rows with r(ref, chosen) > r(ref, rejected) (ties count half)."""
        up, down = self.score(reference, chosen), self.score(reference, rejected)
        return float(np.mean((up > down) + 0.5 * (up == down)))

    def fit(
        self, reference: Any, chosen: Any, rejected: Any, *, epochs: int = 100,
        learning_rate: float = 1e-3, batch_size: int | None = 256,
        weight_decay: float = 1e-2, seed: int | None = None,
    ) -> list[float]:  # fmt: skip
        """Train on (reference, chosen, rejected) rows by AdamW on the Bradley–Terry loss
        (module docs), continuing from the current weights.

        The first fit sets the standardization from its rows (all three arrays together);
        later fits keep it, so that a fine-tuned head reads features as it was pretrained.

        Args:
            reference, chosen, rejected: (N, D) rows; row i of each is triple i.
            epochs: passes over the triples.
            learning_rate: AdamW's step size.
            batch_size: triples per step (``None``: full batch, one step per epoch).
            weight_decay: AdamW's decoupled weight decay.
            seed: the shuffling seed (default: the head's).

        Returns:
            each epoch's mean training loss (the loss before each step, averaged over the
            epoch's triples).

        Raises:
            ShapeError: the arrays are not three equal (N >= 1, width).
            ModelError: a feature is NaN or infinite.
            ConfigurationError: a setting is out of range.
        """
        named = {"reference": reference, "chosen": chosen, "rejected": rejected}
        arrays = [_checked_rows(x, self.width, name) for name, x in named.items()]
        if len({len(a) for a in arrays}) != 1 or not len(arrays[0]):
            raise ShapeError(
                f"reference, chosen and rejected have {[len(a) for a in arrays]} rows: need "
                "three equal non-empty arrays, one row of each per triple"
            )
        _check_settings(epochs, learning_rate, batch_size, weight_decay)
        if not self.trained:
            table = np.concatenate(arrays)
            self.center, self.spread = table.mean(0), table.std(0) + 1e-6
        count = len(arrays[0])
        triples = np.arange(3 * count).reshape(3, count).T
        settings = (int(epochs), learning_rate, batch_size, weight_decay)
        return self._train(np.concatenate(arrays), triples, settings, seed)

    def _train(
        self, table: np.ndarray, triples: np.ndarray,
        settings: tuple[int, float, int | None, float], seed: int | None,
    ) -> list[float]:  # fmt: skip
        """The AdamW loop over (T, 3) index triples into a (M, D) table of rows."""
        import torch

        epochs, learning_rate, batch_size, weight_decay = settings
        rows = self._tensor(table)
        count = len(triples)
        size = min(batch_size or count, count)
        shuffle = np.random.default_rng(self.seed if seed is None else seed)
        optimizer = torch.optim.AdamW(
            self.network.parameters(), lr=learning_rate, weight_decay=weight_decay
        )
        losses = []
        for _ in range(epochs):
            order = shuffle.permutation(count) if size < count else np.arange(count)
            total = 0.0
            for begin in range(0, count, size):
                batch = torch.as_tensor(triples[order[begin : begin + size]])
                reference = rows[batch[:, 0]]
                margin = self._forward(reference, rows[batch[:, 1]]) - self._forward(
                    reference, rows[batch[:, 2]]
                )
                loss: Any = torch.nn.functional.softplus(-margin).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(batch)
            losses.append(total / count)
        self.trained = True
        return losses


def pretrain_policy_discriminator(
    features: Any, triples: Any, *, projection: int = 64, hidden: int = 64,
    epochs: int = 100, learning_rate: float = 1e-3, batch_size: int | None = 256,
    weight_decay: float = 1e-2, seed: int = 0,
) -> tuple[PolarStyleHead, list[float]]:  # fmt: skip
    """A new :class:`PolarStyleHead` pretrained to tell policies apart (module docs).

    Args:
        features: (N, D) rows, one per trajectory (e.g. a policy zoo's answers).
        triples: (T, 3) row indices (anchor, positive, negative), e.g. from
            :func:`policy_discrimination_triples`; the anchor is the reference.
        projection, hidden, seed: as :class:`PolarStyleHead`.
        epochs, learning_rate, batch_size, weight_decay: as :meth:`PolarStyleHead.fit`.

    Returns:
        ``(head, losses)``: the head (standardized by the statistics of the rows the
        triples use) and each epoch's mean training loss.

    Raises:
        ShapeError: ``features`` is not 2-D, or ``triples`` not (T >= 1, 3) indices into it.
        ModelError: a feature is NaN or infinite.
        ConfigurationError: a setting is out of range.
    """
    table = _checked_rows(features, None, "features")
    index = np.asarray(triples)
    if (
        index.ndim != 2
        or index.shape[1] != 3
        or not len(index)
        or not np.issubdtype(index.dtype, np.integer)
        or index.min() < 0
        or index.max() >= len(table)
    ):
        raise ShapeError(
            f"triples {index.shape} ({index.dtype}): need (T >= 1, 3) integer row indices "
            f"into the {len(table)} rows of features (anchor, positive, negative)"
        )
    _check_settings(epochs, learning_rate, batch_size, weight_decay)
    head = PolarStyleHead(table.shape[1], projection, hidden, seed)
    used = table[np.unique(index)]  # the rows the triples touch, never held-out ones
    head.center, head.spread = used.mean(0), used.std(0) + 1e-6
    settings = (int(epochs), learning_rate, batch_size, weight_decay)
    losses = head._train(table, index.astype(np.int64), settings, seed)
    return head, losses


def fine_tune_on_preferences(
    head: PolarStyleHead, features_ref: Any, features_chosen: Any, features_rejected: Any,
    *, epochs: int = 100, learning_rate: float = 1e-3, batch_size: int | None = 256,
    weight_decay: float = 1e-2, seed: int | None = None,
) -> tuple[PolarStyleHead, list[float]]:  # fmt: skip
    """A copy of ``head`` fine-tuned on preference triples; ``head`` is left as it was.

    The loss is pretraining's with the chosen answer as the positive:
    softplus(−(r(ref, chosen) − r(ref, rejected))). A pretrained head keeps its
    standardization; an untrained one takes it from these rows.

    Args:
        head: a pretrained head, or a fresh one (the no-pretraining baseline).
        features_ref: (N, D) each triple's reference answer (or what stands for it).
        features_chosen, features_rejected: (N, D) the preferred and the other answer.
        epochs, learning_rate, batch_size, weight_decay, seed: as :meth:`PolarStyleHead.fit`.

    Returns:
        ``(tuned, losses)``: the fine-tuned copy and each epoch's mean training loss.

    Raises:
        ShapeError, ModelError, ConfigurationError: as :meth:`PolarStyleHead.fit`.
    """
    tuned = copy.deepcopy(head)
    losses = tuned.fit(
        features_ref, features_chosen, features_rejected, epochs=epochs,
        learning_rate=learning_rate, batch_size=batch_size, weight_decay=weight_decay,
        seed=seed,
    )  # fmt: skip
    return tuned, losses
