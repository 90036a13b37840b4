"""VPLRewardModel: on two planted user types that disagree on one feature, VPL infers a
new user's type from 4 labelled pairs and predicts their held-out pairs, where a pooled
Bradley–Terry head cannot; the latents of the two types separate; contexts come from the
target's own user and never hold the target; bad input is refused."""

import numpy as np
import pytest
import torch

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.models._common import ModelError
from rewardkit.models.frozen_head import BradleyTerryHead
from rewardkit.models.vpl import VPLRewardModel

D = 8
#: true rewards w·φ: type A wants a larger feature 0, type B a smaller; both a larger feature 1
WEIGHTS = {
    "A": np.array([2.0, 1.0, 0, 0, 0, 0, 0, 0]),
    "B": np.array([-2.0, 1.0, 0, 0, 0, 0, 0, 0]),
}
USERS_PER_TYPE, PAIRS_PER_USER = 20, 30


def labelled(kind, a, b):
    """(chosen, rejected): each row of ``a`` and ``b`` ordered by the type's true reward."""
    wins = ((a - b) @ WEIGHTS[kind] > 0)[:, None]
    return np.where(wins, a, b), np.where(wins, b, a)


def random_pairs(rng, kind, count):
    return labelled(kind, *rng.normal(size=(2, count, D)))


def disputed_pairs(rng, count):
    """Unordered pairs that differ only in feature 0, the one the two types disagree on."""
    a = rng.normal(size=(count, D))
    b = a.copy()
    b[:, 0] = rng.normal(size=count)
    return a, b


@pytest.fixture(scope="module")
def planted(one_thread):
    """A VPL model and a pooled Bradley–Terry head fitted on 20 users of each type, 30 pairs
    each (users 0..19 of type A, 20..39 of type B)."""
    rng = np.random.default_rng(0)
    parts = [
        random_pairs(rng, kind, PAIRS_PER_USER) for kind in "AB" for _ in range(USERS_PER_TYPE)
    ]
    chosen = np.concatenate([c for c, _ in parts])
    rejected = np.concatenate([r for _, r in parts])
    users = np.repeat(np.arange(2 * USERS_PER_TYPE), PAIRS_PER_USER)
    model = VPLRewardModel(feature_dim=D, seed=0)
    metrics = model.fit(chosen, rejected, users, epochs=15)
    pooled = BradleyTerryHead.untrained(D)
    pooled.fit(chosen, rejected)
    return model, pooled, metrics, (chosen, rejected, users)


def test_vpl_recovers_two_planted_user_types(planted):
    model, pooled, metrics, _ = planted
    assert metrics["train_accuracy"] > 0.9 and metrics["users"] == 40
    rng = np.random.default_rng(1)
    disputed = disputed_pairs(rng, 300)
    vpl, vpl_disputed, pooled_disputed = {}, {}, {}
    for kind in "AB":
        context = random_pairs(rng, kind, 4)  # a new user of this type, met through 4 pairs
        vpl[kind] = model.pair_accuracy(*random_pairs(rng, kind, 300), *context)
        on_disputed = labelled(kind, *disputed)  # the same pairs, ordered by this type
        vpl_disputed[kind] = model.pair_accuracy(*on_disputed, *context)
        margin = pooled.score(on_disputed[0]) - pooled.score(on_disputed[1])
        pooled_disputed[kind] = float(np.mean(margin > 0))
    assert min(vpl.values()) >= 0.9, vpl
    assert min(vpl_disputed.values()) >= 0.9, vpl_disputed
    # one reward for both types orders each disputed pair one way: right for one type, wrong
    # for the other, so it is at chance over the two and at or below it for one of them
    assert np.mean(list(pooled_disputed.values())) == pytest.approx(0.5, abs=0.02)
    assert min(pooled_disputed.values()) <= 0.5, pooled_disputed


def test_the_inferred_latents_of_the_two_types_separate(planted):
    model, _, _, (chosen, rejected, users) = planted
    latents = np.array(
        [model.infer_latent(chosen[users == u][:8], rejected[users == u][:8]) for u in range(40)]
    )
    assert latents.shape == (40, 16)
    type_a, type_b = latents[:USERS_PER_TYPE], latents[USERS_PER_TYPE:]
    between = np.linalg.norm(type_a.mean(0) - type_b.mean(0))
    within = max(
        np.linalg.norm(type_a - type_a.mean(0), axis=1).max(),
        np.linalg.norm(type_b - type_b.mean(0), axis=1).max(),
    )
    assert between > 2 * within, (between, within)


def test_contexts_come_from_the_target_s_user_and_never_hold_the_target():
    model = VPLRewardModel(feature_dim=2, seed=0)
    users = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
    groups = [np.flatnonzero(users == u) for u in range(3)]
    rng = np.random.default_rng(0)
    targets = np.tile(np.arange(len(users)), 20)
    rows, mask = model._contexts(rng, targets, users, groups, (2, 3))
    for target, row, valid in zip(targets, rows, mask, strict=True):
        assert row[0] == target
        context = row[1:][valid]
        others = len(groups[users[target]]) - 1
        assert min(2, others) <= len(context) <= min(3, others)
        assert target not in context and len(set(context)) == len(context)
        assert (users[context] == users[target]).all()


def test_fitting_is_seeded_and_leaves_torch_s_global_stream_alone(one_thread):
    rng = np.random.default_rng(0)
    chosen, rejected = rng.normal(size=(2, 24, 3))
    users = np.repeat(np.arange(4), 6)
    state = torch.random.get_rng_state()
    runs = []
    for _ in range(2):
        model = VPLRewardModel(feature_dim=3, latent_dim=2, hidden=8, seed=3)
        metrics = model.fit(chosen, rejected, users, epochs=2, batch_size=8)
        runs.append((metrics, model.score(chosen, model.infer_latent(chosen[:2], rejected[:2]))))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert torch.equal(state, torch.random.get_rng_state())


def test_bad_input_is_refused():
    rng = np.random.default_rng(0)
    chosen, rejected = rng.normal(size=(2, 6, 3))
    users = np.array([0, 0, 0, 1, 1, 1])
    model = VPLRewardModel(feature_dim=3, latent_dim=2, hidden=8)
    broken = chosen.copy()
    broken[2, 1] = np.nan
    with pytest.raises(ModelError, match="NaN"):
        model.fit(broken, rejected, users)
    with pytest.raises(ShapeError, match="two equal"):
        model.fit(chosen, rejected[:5], users)
    with pytest.raises(ShapeError, match="two equal"):
        model.fit(chosen[:, :2], rejected[:, :2], users)  # the model reads 3 features
    with pytest.raises(ShapeError, match="one id per pair"):
        model.fit(chosen, rejected, users[:5])
    with pytest.raises(ConfigurationError, match=r"users \[7\] have a single pair"):
        model.fit(chosen, rejected, np.array([0, 0, 0, 1, 1, 7]))
    with pytest.raises(ConfigurationError, match="context_size"):
        model.fit(chosen, rejected, users, context_size=(3, 2))
    with pytest.raises(ConfigurationError, match="epochs"):
        model.fit(chosen, rejected, users, epochs=0)
    with pytest.raises(ConfigurationError, match="kl_weight"):
        VPLRewardModel(feature_dim=3, kl_weight=-1.0)
    with pytest.raises(ShapeError, match="two equal"):
        model.infer_latent(chosen[:0], rejected[:0])  # an empty context
    with pytest.raises(ModelError, match="NaN"):
        model.infer_latent(broken, rejected)
    with pytest.raises(ShapeError, match="latent"):
        model.score(chosen, np.zeros(3))
    with pytest.raises(ShapeError, match="features"):
        model.score(chosen[0], np.zeros(2))
