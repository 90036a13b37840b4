"""The TAXONS-style autoencoder descriptor on a toy with a known answer (a dot's position),
its selection score against knn_novelty, and its shape checks."""

import numpy as np
import pytest

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.explore.behaviour_space import (
    AutoencoderDescriptor,
    as_images,
    is_training_step,
    reconstruction_error,
    taxons_criterion,
    taxons_score,
)
from rewardkit.explore.novelty import knn_novelty

torch = pytest.importorskip("torch")


def render(xy, size=16, sigma=3.0):
    """Images (N, size, size) of a soft dot centred at each (row, column) of xy."""
    r = np.arange(size)
    rows = (r[None, :, None] - xy[:, 0, None, None]) ** 2
    cols = (r[None, None, :] - xy[:, 1, None, None]) ** 2
    return np.exp(-(rows + cols) / (2 * sigma**2))


def spearman(a, b):
    def ranks(x):
        out = np.empty(len(x))
        out[np.argsort(x, kind="stable")] = np.arange(len(x))
        return out

    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def pairwise(points):
    upper = np.triu_indices(len(points), 1)
    return np.linalg.norm(points[:, None] - points[None], axis=2)[upper]


@pytest.fixture(scope="module")
def dots():
    grid = np.arange(2, 14)
    xy = np.array([(i, j) for i in grid for j in grid], dtype=float)
    return xy, render(xy)


@pytest.mark.parametrize("architecture", ["conv", "mlp"])
def test_latent_distances_follow_the_dot_positions(dots, architecture):
    torch.set_num_threads(1)
    xy, images = dots
    ae = AutoencoderDescriptor(latent_dim=2, architecture=architecture, epochs=300,
                               learning_rate=3e-3, batch_size=32, seed=0)  # fmt: skip
    metrics = ae.fit(images)
    latents = ae.encode(images)
    assert latents.shape == (len(xy), 2)
    assert spearman(pairwise(latents), pairwise(xy)) > 0.8
    assert metrics["valid_error"] < float(images.var())  # better than the mean image


def test_surprise_is_higher_off_the_training_data(dots):
    torch.set_num_threads(1)
    xy, images = dots
    left = xy[:, 1] < 8
    ae = AutoencoderDescriptor(latent_dim=2, epochs=200, learning_rate=3e-3, batch_size=32)
    ae.fit(images[left])
    seen = ae.reconstruction_error(images[left])
    unseen = ae.reconstruction_error(images[~left & (xy[:, 1] >= 11)])
    assert unseen.mean() > 2 * seen.mean()


def test_channels_last_and_uint8_images():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)
    images = as_images(rgb)
    assert images.shape == (10, 3, 8, 8) and images.dtype == np.float32
    assert images.max() <= 1.0
    np.testing.assert_allclose(images[2, 1], rgb[2, :, :, 1] / 255.0, rtol=1e-6)
    ae = AutoencoderDescriptor(latent_dim=4, epochs=1)
    ae.fit(rgb)
    assert ae.encode(rgb[:3]).shape == (3, 4)
    assert ae.reconstruction_error(rgb).shape == (10,)


def test_the_score_is_knn_novelty_or_the_error():
    rng = np.random.default_rng(1)
    latents, archive, errors = rng.normal(size=(6, 3)), rng.normal(size=(9, 3)), rng.random(6)
    novelty = taxons_score(latents, errors, archive, criterion="novelty", k=4)
    by_hand = knn_novelty(latents, np.concatenate([latents, archive]), k=4, skip_self=True)
    np.testing.assert_allclose(novelty, by_hand)
    np.testing.assert_allclose(taxons_score(latents, errors, archive, "surprise"), errors)
    draws = [taxons_criterion(rng) for _ in range(400)]
    assert 150 < draws.count("novelty") < 250


def test_reconstruction_error_by_hand():
    got = reconstruction_error(np.zeros((2, 1, 2)), np.array([[[3.0, 4.0]], [[0.0, 2.0]]]))
    np.testing.assert_allclose(got, [12.5, 2.0])


def test_training_steps_grow_by_one():
    steps = [s for s in range(1, 60) if is_training_step(s)]
    assert steps == [1, 3, 6, 10, 15, 21, 28, 36, 45, 55]
    assert not is_training_step(0)


def test_bad_shapes_raise():
    with pytest.raises(ShapeError):
        as_images(np.zeros((4, 5)))
    with pytest.raises(ShapeError):
        as_images(np.zeros((1, 2, 3, 4, 5)))
    with pytest.raises(ShapeError):
        reconstruction_error(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ShapeError):
        taxons_score(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ShapeError):
        taxons_score(np.zeros((3, 2)), np.zeros(3), reference=np.zeros((5, 3)))
    with pytest.raises(ConfigurationError):
        taxons_score(np.zeros((3, 2)), np.zeros(3), criterion="fitness")
    ae = AutoencoderDescriptor(latent_dim=2, epochs=1)
    with pytest.raises(ConfigurationError):
        ae.encode(np.zeros((2, 6, 6)))
    ae.fit(np.zeros((5, 6, 6)))
    with pytest.raises(ShapeError):
        ae.encode(np.zeros((2, 7, 6)))
    with pytest.raises(ShapeError):
        ae.fit(np.zeros((0, 6, 6)))
    with pytest.raises(ConfigurationError):
        AutoencoderDescriptor(architecture="transformer")
