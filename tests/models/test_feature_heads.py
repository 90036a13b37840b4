"""Feature heads: a depth-1 head ranks as BradleyTerryHead does, a SiLU head learns an
XOR preference a linear one cannot, the Ctrl-U-style loss matches a hand/reference
computation (and is plain BT at s = 0), the ensemble equals a reference loop, bad input
is refused."""

import numpy as np
import pytest
import torch

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.models._common import ModelError
from rewardkit.models.feature_heads import (
    ACTIVATIONS,
    HeadEnsemble,
    MLPRewardHead,
    _warmed,
    ctrl_u_loss,
    fit_head_ensemble,
)
from rewardkit.models.frozen_head import BradleyTerryHead


def linear_pairs(rng, count, w, gap=0.5):
    """Random item pairs ordered by r = x·w, those closer than ``gap`` in r dropped
    (so the pairs are linearly separable with a margin)."""
    a, b = rng.normal(size=(count, len(w))), rng.normal(size=(count, len(w)))
    keep = np.abs((a - b) @ w) > gap
    a, b = a[keep], b[keep]
    up = ((a @ w) > (b @ w))[:, None]
    return np.where(up, a, b), np.where(up, b, a)


def xor_pairs(rng, count, extra=2):
    """Chosen rows where x0·x1 > 0, rejected where x0·x1 < 0 (uniform in [-1, 1]^(2+extra))."""

    def draw(sign):
        x = rng.uniform(-1, 1, size=(4 * count, 2 + extra))
        return x[np.sign(x[:, 0] * x[:, 1]) == sign][:count]

    return draw(1), draw(-1)


def ranks(x):
    return x.argsort().argsort()


def accuracy(head, chosen, rejected):
    return float(np.mean(head.score(chosen) > head.score(rejected)))


def test_a_linear_head_ranks_as_the_bradley_terry_head():
    rng = np.random.default_rng(0)
    w = np.array([1.0, -0.5, 0.25, 0.0, 0.0])
    chosen, rejected = linear_pairs(rng, 400, w)
    test_chosen, test_rejected = linear_pairs(rng, 400, w)
    reference = BradleyTerryHead.untrained(5)
    reference.fit(chosen, rejected, l2=1e-3)
    head = MLPRewardHead(5, depth=1, activation="none")
    metrics = head.fit(chosen, rejected, l2=1e-3, epochs=300, learning_rate=5e-2)
    assert metrics["train_accuracy"] == 1.0 and head.trained
    assert accuracy(head, test_chosen, test_rejected) == 1.0
    assert accuracy(reference, test_chosen, test_rejected) == 1.0
    # same standardization, same objective: the same direction and item ranking
    np.testing.assert_allclose(head.center, reference.center)
    found = head.layers[0].weight.detach().numpy()[0]
    cosine = found @ reference.weights / np.linalg.norm(found) / np.linalg.norm(reference.weights)
    assert cosine > 0.999
    items = rng.normal(size=(200, 5))
    assert np.corrcoef(ranks(head.score(items)), ranks(reference.score(items)))[0, 1] > 0.99


def test_a_silu_head_learns_an_xor_preference_a_linear_head_cannot():
    rng = np.random.default_rng(1)
    chosen, rejected = xor_pairs(rng, 256)
    test_chosen, test_rejected = xor_pairs(rng, 256)
    found = {}
    for depth, activation in [(1, "none"), (2, "silu")]:
        head = MLPRewardHead(4, depth=depth, hidden=32, activation=activation)
        head.fit(chosen, rejected, epochs=300, learning_rate=1e-2)
        found[depth] = accuracy(head, test_chosen, test_rejected)
    assert found[2] >= 0.9 and found[1] <= 0.65, found


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_the_layers_follow_depth_and_hidden(depth):
    head = MLPRewardHead(6, depth=depth, hidden=8)
    shapes = [tuple(layer.weight.shape) for layer in head.layers]
    assert shapes == [*[(8, 6), (8, 8)][: depth - 1], (1, 6 if depth == 1 else 8)]


def test_minibatch_fit_runs_and_leaves_torchs_random_stream_alone():
    rng = np.random.default_rng(2)
    chosen, rejected = linear_pairs(rng, 100, np.array([1.0, 1.0]))
    before = torch.random.get_rng_state()
    metrics = MLPRewardHead(2, hidden=8).fit(chosen, rejected, epochs=3, batch_size=16)
    assert torch.equal(before, torch.random.get_rng_state())
    assert metrics["steps"] == 3 * -(-len(chosen) // 16)


def test_ctrl_u_loss_by_hand():
    loss, weight = ctrl_u_loss(torch.tensor([0.0, 0.0]), torch.tensor([0.0, 50.0]), 1.0)
    # u = 0: log 2 with weight 1; u = 1/2: log 2 * exp(-1/2) + 1/2
    np.testing.assert_allclose(weight.numpy(), [1.0, np.exp(-0.5)], rtol=1e-6)
    np.testing.assert_allclose(loss.numpy(), [np.log(2), np.log(2) * np.exp(-0.5) + 0.5], rtol=1e-6)


@pytest.mark.parametrize("scale", [0.0, 0.3, 1.0, 5.0])
def test_ctrl_u_loss_equals_a_numpy_reference_and_weights_lie_in_0_1(scale):
    rng = np.random.default_rng(3)
    m1, m2 = rng.normal(scale=4.0, size=50), rng.normal(scale=4.0, size=50)
    m2[:5] = m1[:5]  # no disagreement: weight exactly 1
    loss, weight = ctrl_u_loss(torch.tensor(m1), torch.tensor(m2), scale)
    u = np.abs(1 / (1 + np.exp(-m1)) - 1 / (1 + np.exp(-m2)))
    expected = np.logaddexp(0.0, -m1) * np.exp(-scale * u) + scale * u
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-10)
    assert (weight.numpy() > 0).all() and (weight.numpy() <= 1).all()
    assert (weight.numpy()[:5] == 1).all()
    if scale == 0:
        np.testing.assert_allclose(loss.numpy(), np.logaddexp(0.0, -m1), rtol=1e-12)


def test_ctrl_u_at_scale_0_without_dropout_is_plain_bradley_terry():
    rng = np.random.default_rng(4)
    chosen, rejected = xor_pairs(rng, 64)
    plain, ctrl_u = MLPRewardHead(4, hidden=16, seed=7), MLPRewardHead(4, hidden=16, seed=7)
    expected = plain.fit(chosen, rejected, epochs=20, batch_size=32, learning_rate=1e-2)
    found = ctrl_u.fit(chosen, rejected, epochs=20, batch_size=32, learning_rate=1e-2,
                       weighting="ctrl_u", uncertainty_scale=0.0, dropout=0.0)  # fmt: skip
    for a, b in zip(plain.layers.parameters(), ctrl_u.layers.parameters(), strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-6)
    assert found["train_loss"] == pytest.approx(expected["train_loss"], abs=1e-6)
    assert found["mean_uncertainty"] == 0.0 and found["mean_weight"] == 1.0


def test_ctrl_u_at_scale_0_with_dropout_trains_on_pass_1s_bradley_terry_loss():
    # one full-batch step: pass 1 draws the same dropout masks as a plain fit with that dropout
    rng = np.random.default_rng(5)
    chosen, rejected = xor_pairs(rng, 64)
    options = {"epochs": 1, "dropout": 0.3, "l2": 0.0}
    expected = MLPRewardHead(4, hidden=16).fit(chosen, rejected, **options)
    found = MLPRewardHead(4, hidden=16).fit(
        chosen, rejected, weighting="ctrl_u", uncertainty_scale=0.0, **options
    )
    assert found["objective"] == pytest.approx(expected["objective"], rel=1e-6)
    assert 0.0 < found["mean_uncertainty"] < 1.0


def test_ctrl_u_fit_on_flipped_labels_gives_finite_scores():
    rng = np.random.default_rng(6)
    chosen, rejected = linear_pairs(rng, 300, np.array([1.0, -1.0, 0.5]))
    flip = rng.random(len(chosen)) < 0.3
    chosen, rejected = (
        np.where(flip[:, None], rejected, chosen),
        np.where(flip[:, None], chosen, rejected),
    )
    head = MLPRewardHead(3, hidden=16)
    metrics = head.fit(chosen, rejected, epochs=100, learning_rate=1e-2, weighting="ctrl_u",
                       uncertainty_scale=1.0, warmup=0.2)  # fmt: skip
    assert np.isfinite(head.score(chosen)).all()
    assert 0.0 < metrics["mean_weight"] <= 1.0 and 0.0 <= metrics["mean_uncertainty"] < 1.0
    assert np.exp(-1.0) <= metrics["mean_weight"]  # u < 1, so every weight is above e^-s


def test_the_warm_up_ramps_the_scale_linearly():
    assert [_warmed(2.0, step, 100, 0.5) for step in (0, 25, 50, 99)] == [0.0, 1.0, 2.0, 2.0]
    assert _warmed(2.0, 0, 100, 0.0) == 2.0


def test_the_ensemble_mean_and_spread_equal_a_reference_loop():
    rng = np.random.default_rng(7)
    chosen, rejected = linear_pairs(rng, 120, np.array([1.0, 0.5, -1.0]))
    ensemble = fit_head_ensemble(chosen, rejected, size=3, hidden=16, seeds=[3, 4, 5],
                                 epochs=40, learning_rate=1e-2)  # fmt: skip
    assert [head.seed for head in ensemble.heads] == [3, 4, 5]
    items = rng.normal(size=(30, 3))
    members = []
    for head in ensemble.heads:
        members.append([(head.score(row[None])[0] - head.score_center) / head.score_scale
                        for row in items])  # fmt: skip
    members = np.array(members)
    np.testing.assert_allclose(ensemble.score(items), members.mean(0), atol=1e-5)
    spread = np.sqrt(((members - members.mean(0)) ** 2).mean(0))
    np.testing.assert_allclose(ensemble.score_std(items), spread, atol=1e-5)
    assert (ensemble.score_std(items) >= 0).all()
    assert HeadEnsemble(ensemble.heads[:1]).score_std(items).max() == 0.0


def test_a_member_fit_on_all_rows_has_standardized_scores_of_mean_0_and_std_1():
    rng = np.random.default_rng(8)
    chosen, rejected = linear_pairs(rng, 60, np.array([1.0, 2.0]))
    ensemble = fit_head_ensemble(chosen, rejected, size=2, hidden=8, bootstrap=False, epochs=10)
    z = ensemble.heads[0].score(np.concatenate([chosen, rejected]), standardized=True)
    assert z.mean() == pytest.approx(0.0, abs=1e-6) and z.std() == pytest.approx(1.0, rel=1e-6)


def test_bad_input_is_refused():
    head = MLPRewardHead(3, hidden=4)
    good = np.zeros((4, 3))
    bad = good.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ModelError, match="NaN or infinite"):
        head.fit(good, bad)
    with pytest.raises(ModelError, match="NaN or infinite"):
        head.score(np.full((2, 3), np.inf))
    with pytest.raises(ShapeError):
        head.fit(good, np.zeros((5, 3)))
    with pytest.raises(ShapeError):
        head.fit(np.zeros((4, 2)), np.zeros((4, 2)))
    with pytest.raises(ShapeError):
        head.score(np.zeros((2, 4)))
    with pytest.raises(ConfigurationError, match="depth"):
        MLPRewardHead(3, depth=0)
    with pytest.raises(ConfigurationError, match=", ".join(ACTIVATIONS)):
        MLPRewardHead(3, activation="gelu")
    for setting in [{"weighting": "kl"}, {"dropout": 1.0}, {"epochs": 0}, {"l2": -1.0},
                    {"batch_size": 0}, {"warmup": 1.5}, {"uncertainty_scale": -1.0}]:  # fmt: skip
        with pytest.raises(ConfigurationError):
            head.fit(good + 1, good, **setting)
    with pytest.raises(ConfigurationError):
        HeadEnsemble([])
    with pytest.raises(ConfigurationError, match="seeds"):
        fit_head_ensemble(good + 1, good, size=3, seeds=[0, 1])
