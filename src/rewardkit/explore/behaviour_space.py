"""Learned behaviour spaces: a TAXONS-style autoencoder descriptor, with novelty and surprise.

TAXONS (Paolo et al. 2020, "Unsupervised Learning and Exploration of Reachable
Outcome Space", ICRA) does novelty search without a hand-made behaviour
descriptor. An autoencoder (encoder E, decoder D) is trained on the final
observation o_T(x) of each policy x (an image), and

    b(x) = E(o_T(x))                                 the descriptor: the latent code
    s(x) = (1/P) Σ_p (D(E(o_T(x)))_p − o_T(x)_p)²     surprise: the reconstruction error

over the P values of the image. Novelty ρ(x) is novelty search's kNN novelty
(:func:`~rewardkit.explore.novelty.knn_novelty`) in latent space, against the
archive and the population. Each generation TAXONS selects by one of the two,
drawn with equal odds (:func:`taxons_criterion`):

    score_t(x) = ρ(x) if c_t = "novelty" else s(x),   c_t ~ U{novelty, surprise}

(:func:`taxons_score`). The autoencoder is retrained on the archive's and the
population's observations at growing intervals, after search steps 1, 3, 6, 10,
... (the interval grows by one after each training; :func:`is_training_step`),
with 20 % held out and early stopping when the validation error rises more than
``patience`` times in a row; then every stored descriptor is re-encoded.
STAX (Paolo et al. 2021, "Behavior-space learning + emitters"; the successor of
SERENE) uses the same learned space with SERENE's emitters
(:mod:`rewardkit.explore.emitters`).

:class:`AutoencoderDescriptor` is that autoencoder (torch, CPU): ``fit`` on
images (N, H, W) or (N, H, W, C), ``encode`` to latents (N, latent_dim),
``reconstruction_error`` to s (N,). Simplified here (so "TAXONS-style"): a
small network (two stride-2 convolutions, or an MLP, then a dense decoder)
sized for small images, where the paper's has four convolutions on 64×64 RGB
images with a deconvolution decoder.

Example:
    >>> latents = np.array([[0.0], [1.0], [3.0]])
    >>> taxons_score(latents, np.array([0.2, 0.1, 0.5]), criterion="novelty", k=1).tolist()
    [1.0, 1.0, 2.0]
    >>> taxons_score(latents, np.array([0.2, 0.1, 0.5]), criterion="surprise").tolist()
    [0.2, 0.1, 0.5]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.core.output import FloatArray
from rewardkit.explore.novelty import knn_novelty

__all__ = [
    "CRITERIA",
    "AutoencoderDescriptor",
    "as_images",
    "is_training_step",
    "reconstruction_error",
    "taxons_criterion",
    "taxons_score",
]

#: TAXONS' two selection criteria
CRITERIA = ("novelty", "surprise")


def as_images(observations: Any) -> np.ndarray:
    """Images (N, H, W) or (N, H, W, C) as float32 (N, C, H, W); uint8 is scaled by 1/255.

    Raises:
        ShapeError: for any other shape.

    Example:
        >>> as_images(np.zeros((5, 4, 3))).shape, as_images(np.zeros((5, 4, 3, 2))).shape
        ((5, 1, 4, 3), (5, 2, 4, 3))
    """
    array = np.asarray(observations)
    if array.ndim not in (3, 4) or min(array.shape[1:], default=0) < 1:
        raise ShapeError(f"images must be (N, H, W) or (N, H, W, C), got shape {array.shape}")
    images = array.astype(np.float32) / (255.0 if array.dtype == np.uint8 else 1.0)
    if images.ndim == 3:
        return images[:, None, :, :]
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2))


def reconstruction_error(images: Any, reconstructions: Any) -> FloatArray:
    """s = the mean squared error of each image (N, ...) against its reconstruction.

    Example:
        >>> reconstruction_error(np.zeros((2, 2, 2)), [[[1, 1], [1, 1]], [[0, 0], [0, 2]]])
        array([1., 1.])
    """
    x = np.asarray(images, dtype=np.float64)
    y = np.asarray(reconstructions, dtype=np.float64)
    if x.shape != y.shape or x.ndim < 2:
        raise ShapeError(
            f"images and reconstructions must match (N, ...), got {x.shape}, {y.shape}"
        )
    error: FloatArray = ((x - y) ** 2).reshape(len(x), -1).mean(axis=1)
    return error


def taxons_score(
    latents: Any,
    errors: Any,
    reference: Any = None,
    criterion: str = "novelty",
    k: int = 15,
) -> FloatArray:
    """TAXONS' selection score of a batch: ρ, the kNN novelty of each latent (B, D) against
    ``reference`` (M, D; the archive) and the batch itself (itself left out), or s, its
    reconstruction error ``errors`` (B,).

    Raises:
        ShapeError: for latents not (B, D), errors not (B,), or a reference of another D.
        ConfigurationError: for a criterion other than "novelty" or "surprise".
    """
    z = np.asarray(latents, dtype=np.float64)
    s = np.asarray(errors, dtype=np.float64)
    if z.ndim != 2 or s.shape != (len(z),):
        raise ShapeError(f"latents (B, D) and errors (B,) expected, got {z.shape}, {s.shape}")
    if criterion not in CRITERIA:
        raise ConfigurationError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    if criterion == "surprise":
        return s.copy()
    seen = np.zeros((0, z.shape[1])) if reference is None else np.asarray(reference, float)
    if seen.ndim != 2 or seen.shape[1] != z.shape[1]:
        raise ShapeError(f"reference must be (M, {z.shape[1]}), got {seen.shape}")
    # the batch comes first, so row i of the reference is query i (skip_self)
    return knn_novelty(z, np.concatenate([z, seen]), k=k, skip_self=True)


def taxons_criterion(rng: np.random.Generator) -> str:
    """Draw the generation's criterion, novelty or surprise, with equal odds.

    Example:
        >>> taxons_criterion(np.random.default_rng(0)) in CRITERIA
        True
    """
    return CRITERIA[int(rng.integers(0, 2))]


def is_training_step(step: int) -> bool:
    """Whether TAXONS retrains after search step ``step`` (1-based): the intervals between
    trainings grow 1, 2, 3, ..., so it trains after the triangular steps 1, 3, 6, 10, ...

    Example:
        >>> [s for s in range(1, 22) if is_training_step(s)]
        [1, 3, 6, 10, 15, 21]
    """
    if step < 1:
        return False
    root = math.isqrt(8 * step + 1)
    return root * root == 8 * step + 1


def _network(shape: tuple[int, int, int], latent: int, hidden: int, conv: bool) -> Any:
    import torch
    from torch import nn

    channels, height, width = shape
    if conv:
        features = nn.Sequential(
            nn.Conv2d(channels, 16, 4, stride=2, padding=1), nn.SELU(),
            nn.Conv2d(16, 32, 4, stride=2, padding=1), nn.SELU(), nn.Flatten(),
        )  # fmt: skip
        with torch.no_grad():
            flat = int(features(torch.zeros(1, *shape)).shape[1])
        encoder = nn.Sequential(features, nn.Linear(flat, latent))
    else:
        encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(channels * height * width, hidden), nn.SELU(),
            nn.Linear(hidden, latent),
        )  # fmt: skip
    decoder = nn.Sequential(
        nn.Linear(latent, hidden), nn.SELU(), nn.Linear(hidden, channels * height * width),
        nn.Unflatten(1, shape),
    )  # fmt: skip
    return nn.ModuleDict({"encoder": encoder, "decoder": decoder})


class AutoencoderDescriptor:
    """The TAXONS-style autoencoder behaviour descriptor (see the module docs).

    Args:
        latent_dim: size of the descriptor (TAXONS: 10).
        architecture: "conv" (two stride-2 convolutions) or "mlp" for the encoder.
        hidden: width of the dense layers.
        epochs: most epochs per ``fit``.
        batch_size: minibatch size.
        learning_rate: Adam's step size.
        validation: share of a ``fit``'s images held out for early stopping.
        patience: validation rises in a row that stop a ``fit`` (TAXONS: 3).
        seed: seeds the weights and the shuffling.

    Example:
        >>> images = np.random.default_rng(0).random((40, 6, 6))
        >>> ae = AutoencoderDescriptor(latent_dim=3, epochs=2, seed=0)
        >>> _ = ae.fit(images)
        >>> ae.encode(images).shape, ae.reconstruction_error(images).shape
        ((40, 3), (40,))
    """

    def __init__(
        self,
        latent_dim: int = 10,
        architecture: str = "conv",
        hidden: int = 64,
        epochs: int = 50,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        validation: float = 0.2,
        patience: int = 3,
        seed: int = 0,
    ) -> None:
        if min(latent_dim, hidden, epochs, batch_size, patience) < 1:
            raise ConfigurationError(
                "latent_dim, hidden, epochs, batch_size and patience must be >= 1"
            )
        if architecture not in ("conv", "mlp") or not 0.0 <= validation < 1.0:
            raise ConfigurationError("architecture is 'conv' or 'mlp'; validation in [0, 1)")
        if not learning_rate > 0:
            raise ConfigurationError(f"learning_rate must be > 0, got {learning_rate}")
        self.latent_dim, self.architecture, self.hidden = latent_dim, architecture, hidden
        self.epochs, self.batch_size, self.learning_rate = epochs, batch_size, learning_rate
        self.validation, self.patience, self.seed = validation, patience, seed
        self.rng = np.random.default_rng(seed)
        self.shape: tuple[int, int, int] | None = None
        self.fits = 0
        self._net: Any = None
        self._optimizer: Any = None

    def _images(self, observations: Any) -> np.ndarray:
        images = as_images(observations)
        if self.shape is not None and images.shape[1:] != self.shape:
            raise ShapeError(f"images of shape (C, H, W) = {self.shape} expected, got "
                             f"{images.shape[1:]}")  # fmt: skip
        return images

    def _build(self, shape: tuple[int, int, int]) -> None:
        import torch

        self.shape = shape
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self._net = _network(shape, self.latent_dim, self.hidden, self.architecture == "conv")
        self._optimizer = torch.optim.Adam(self._net.parameters(), lr=self.learning_rate)

    def _errors(self, images: np.ndarray) -> Any:
        import torch

        x = torch.from_numpy(images)
        y = self._net["decoder"](self._net["encoder"](x))
        return ((y - x) ** 2).flatten(1).mean(dim=1)

    def fit(self, observations: Any, epochs: int | None = None) -> dict[str, float]:
        """Train on images (N, H, W) or (N, H, W, C), continuing from the last ``fit``;
        returns the epochs run and the final training and validation errors. ``epochs=0``
        only builds the network (random weights: TAXONS' untrained start)."""
        import torch

        images = self._images(observations)
        if len(images) == 0:
            raise ShapeError("fit needs at least one image")
        if self._net is None:
            shape = images.shape[1:]
            self._build((int(shape[0]), int(shape[1]), int(shape[2])))
        order = self.rng.permutation(len(images))
        held = int(len(images) * self.validation) if len(images) > 4 else 0
        valid, train = images[order[:held]], images[order[held:]]
        best, rises, ran, train_error = math.inf, 0, 0, math.nan
        valid_error = math.nan
        for _ in range(self.epochs if epochs is None else epochs):
            ran += 1
            self._net.train()
            total, shuffled = 0.0, self.rng.permutation(len(train))
            for start in range(0, len(train), self.batch_size):
                batch = train[shuffled[start : start + self.batch_size]]
                loss = self._errors(batch).mean()
                self._optimizer.zero_grad()
                loss.backward()
                self._optimizer.step()
                total += float(loss.detach()) * len(batch)
            train_error = total / len(train)
            if held:
                with torch.no_grad():
                    valid_error = float(self._errors(valid).mean())
                rises = rises + 1 if valid_error > best else 0
                best = min(best, valid_error)
                if rises > self.patience:
                    break
        self._net.eval()
        self.fits += 1
        return {"epochs": float(ran), "train_error": train_error, "valid_error": valid_error}

    def _require(self) -> None:
        if self._net is None:
            raise ConfigurationError("call fit before encode or reconstruction_error")

    def encode(self, observations: Any) -> FloatArray:
        """The descriptors b = E(o): latents (N, latent_dim)."""
        import torch

        self._require()
        images = self._images(observations)
        with torch.no_grad():
            parts = [self._net["encoder"](torch.from_numpy(images[i : i + 512])).numpy()
                     for i in range(0, len(images), 512)]  # fmt: skip
        latents: FloatArray = (
            np.concatenate(parts).astype(np.float64) if parts else np.zeros((0, self.latent_dim))
        )
        return latents

    def reconstruction_error(self, observations: Any) -> FloatArray:
        """The surprise s of each image (N,): its mean squared reconstruction error."""
        import torch

        self._require()
        images = self._images(observations)
        with torch.no_grad():
            parts = [self._errors(images[i : i + 512]).numpy() for i in range(0, len(images), 512)]
        errors: FloatArray = np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)
        return errors
