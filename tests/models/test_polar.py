"""POLAR-style head: triples obey their definition; a pretrained head tells planted
policies apart on held-out prompts where an untrained one guesses; the scores match a
NumPy reference forward pass and the loss a hand computation; fine-tuning works on a copy
and keeps the pretraining standardization; bad input is refused."""

import math

import numpy as np
import pytest
import torch

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.models._common import ModelError
from rewardkit.models.polar import (
    PolarStyleHead,
    fine_tune_on_preferences,
    policy_discrimination_triples,
    pretrain_policy_discriminator,
)

D, POLICIES, PROMPTS, SAMPLES = 12, 3, 16, 4


def planted_zoo(seed=0):
    """3 policies x 16 prompts x 4 samples: a row is its prompt's offset plus its policy's
    offset plus noise, so only a comparison with the reference tells the policy."""
    rng = np.random.default_rng(seed)
    policy = np.repeat(np.arange(POLICIES), PROMPTS * SAMPLES)
    prompt = np.tile(np.repeat(np.arange(PROMPTS), SAMPLES), POLICIES)
    features = (
        3.0 * rng.normal(size=(PROMPTS, D))[prompt]
        + 1.5 * rng.normal(size=(POLICIES, D))[policy]
        + rng.normal(size=(len(policy), D))
    )
    return policy, prompt, features


def discrimination_accuracy(head, features, triples):
    return head.pair_accuracy(*(features[triples.T]))


def test_triples_obey_their_definition():
    rng = np.random.default_rng(3)
    policy = rng.integers(0, 3, size=60)
    prompt = rng.integers(0, 8, size=60)
    triples = policy_discrimination_triples(policy, prompt, count=4000, rng=rng)
    assert triples.shape == (4000, 3) and triples.dtype == np.int64
    a, p, n = triples.T
    assert (a != p).all()
    assert (prompt[a] == prompt[p]).all() and (prompt[a] == prompt[n]).all()
    assert (policy[a] == policy[p]).all() and (policy[a] != policy[n]).all()
    # every row that can anchor does, and none other; its positives and negatives all show up
    can_anchor = {
        i
        for i in range(60)
        if ((prompt == prompt[i]) & (policy == policy[i])).sum() > 1
        and ((prompt == prompt[i]) & (policy != policy[i])).any()
    }
    assert set(a.tolist()) == can_anchor
    first = min(can_anchor)
    same = {
        j
        for j in range(60)
        if j != first and (prompt[j], policy[j]) == (prompt[first], policy[first])
    }
    other = {j for j in range(60) if prompt[j] == prompt[first] and policy[j] != policy[first]}
    assert set(p[a == first].tolist()) == same and set(n[a == first].tolist()) == other


def test_triples_are_reproducible_and_take_any_ids():
    policy = np.array(["hot", "hot", "cold", "cold", "hot"])
    prompt = np.array(["q1", "q1", "q1", "q2", "q2"])
    first = policy_discrimination_triples(policy, prompt, count=5, rng=np.random.default_rng(1))
    again = policy_discrimination_triples(policy, prompt, count=5, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(first, again)
    # only rows 0 and 1 can anchor (q2 has one row per policy)
    assert set(map(tuple, first.tolist())) <= {(0, 1, 2), (1, 0, 2)}


@pytest.mark.parametrize(
    ("policy", "prompt"),
    [
        ([0, 0, 0, 0], [1, 1, 2, 2]),  # one policy: no negative
        ([0, 1, 0, 1], [1, 1, 2, 2]),  # one row per (prompt, policy): no positive
        ([0, 0, 1, 1], [1, 1, 2, 2]),  # the policies never share a prompt
    ],
)
def test_no_triple_is_refused(policy, prompt):
    with pytest.raises(ConfigurationError, match="no triple can be formed") as raised:
        policy_discrimination_triples(policy, prompt, count=1, rng=np.random.default_rng(0))
    assert isinstance(raised.value, ValueError)


def test_bad_triple_settings_are_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ShapeError):
        policy_discrimination_triples([0, 0, 1], [0, 0], count=1, rng=rng)
    with pytest.raises(ShapeError):
        policy_discrimination_triples(np.zeros((2, 2)), np.zeros((2, 2)), count=1, rng=rng)
    for count in (0, -1, 1.5):
        with pytest.raises(ConfigurationError, match="count"):
            policy_discrimination_triples([0, 0, 1], [0, 0, 0], count=count, rng=rng)


def test_a_pretrained_head_tells_planted_policies_apart_on_held_out_prompts(one_thread):
    policy, prompt, features = planted_zoo()
    train = prompt < 12
    rng = np.random.default_rng(0)
    index = np.flatnonzero(train)
    triples = index[
        policy_discrimination_triples(policy[train], prompt[train], count=3000, rng=rng)
    ]
    held = ~train
    held_triples = np.flatnonzero(held)[
        policy_discrimination_triples(policy[held], prompt[held], count=2000, rng=rng)
    ]
    head, losses = pretrain_policy_discriminator(
        features, triples, projection=16, hidden=32, epochs=40, learning_rate=3e-3, seed=0
    )
    assert len(losses) == 40 and losses[-1] < 0.5 * losses[0]
    assert discrimination_accuracy(head, features, held_triples) > 0.9
    # standardized by the rows the triples use: the training prompts', not the held-out ones
    np.testing.assert_allclose(head.center, features[np.unique(triples)].mean(0))
    assert not np.allclose(head.center, features.mean(0))
    untrained = [
        discrimination_accuracy(PolarStyleHead(D, 16, 32, seed=s), features, held_triples)
        for s in range(8)
    ]
    assert abs(np.mean(untrained) - 0.5) < 0.1


def numpy_score(head, reference, candidate):
    """The module docs' equation, by hand, from the head's weights."""
    w = {name: p.detach().double().numpy() for name, p in head.network.named_parameters()}

    def project(x):
        return ((x - head.center) / head.spread) @ w["project.weight"].T + w["project.bias"]

    a, b = project(reference), project(candidate)
    mixed = np.concatenate([a, b, a * b, np.abs(a - b)], axis=1) @ w["mix.weight"].T
    mixed = mixed + w["mix.bias"]
    silu = mixed / (1.0 + np.exp(-mixed))
    return silu @ w["out.weight"][0] + w["out.bias"][0]


def test_scores_match_a_numpy_reference_forward_pass():
    rng = np.random.default_rng(2)
    head = PolarStyleHead(5, projection=3, hidden=4, seed=1)
    head.center, head.spread = rng.normal(size=5), rng.uniform(0.5, 2.0, size=5)
    reference, candidate = rng.normal(size=(2, 7, 5))
    np.testing.assert_allclose(
        head.score(reference, candidate), numpy_score(head, reference, candidate), atol=1e-5
    )
    # one (D,) reference serves every candidate
    np.testing.assert_allclose(
        head.score(reference[0], candidate),
        numpy_score(head, np.repeat(reference[:1], 7, axis=0), candidate),
        atol=1e-5,
    )


def hand_head():
    """D = p = hidden = 1, P = identity, mix = −|a − b|, out = identity: r = SiLU(−|a − b|)."""
    head = PolarStyleHead(1, projection=1, hidden=1)
    with torch.no_grad():
        for parameter in head.network.parameters():
            parameter.zero_()
        head.network["project"].weight.fill_(1.0)
        head.network["mix"].weight.copy_(torch.tensor([[0.0, 0.0, 0.0, -1.0]]))
        head.network["out"].weight.fill_(1.0)
    return head


def test_the_bradley_terry_loss_equals_a_hand_computation():
    head = hand_head()
    silu1, silu2 = -1.0 / (1.0 + math.e), -2.0 / (1.0 + math.exp(2.0))  # SiLU(−x) = −x σ(−x)
    reference, chosen, rejected = [[0.0], [1.0]], [[0.0], [2.0]], [[2.0], [1.0]]
    # row 1: r(0, 0) = SiLU(0) = 0, r(0, 2) = SiLU(−2): margin −SiLU(−2) ≈ 0.238
    # row 2: r(1, 2) = SiLU(−1), r(1, 1) = 0: margin SiLU(−1) ≈ −0.269
    np.testing.assert_allclose(head.score(reference, chosen), [0.0, silu1], atol=1e-7)
    np.testing.assert_allclose(head.score(reference, rejected), [silu2, 0.0], atol=1e-7)
    expected = 0.5 * (math.log1p(math.exp(silu2)) + math.log1p(math.exp(-silu1)))
    assert head.loss(reference, chosen, rejected) == pytest.approx(expected, abs=1e-6)
    assert head.pair_accuracy(reference, chosen, rejected) == 0.5
    # fit reports the loss before its step: one full-batch epoch gives the same number
    head.trained = True  # keep the identity standardization
    losses = head.fit(reference, chosen, rejected, epochs=1, batch_size=None)
    assert losses == [pytest.approx(expected, abs=1e-6)]


def test_fine_tuning_works_on_a_copy_and_keeps_the_standardization(one_thread):
    policy, prompt, features = planted_zoo(1)
    triples = policy_discrimination_triples(policy, prompt, count=500, rng=np.random.default_rng(0))
    head, _ = pretrain_policy_discriminator(features, triples, projection=8, hidden=8, epochs=3)
    before = head.score(features[:10], features[10:20])
    # preference triples: chosen = the reference plus a shift along feature 0
    rng = np.random.default_rng(5)
    reference = rng.normal(size=(400, D)) * 3
    chosen = reference + rng.normal(size=(400, D)) + 2.0 * np.eye(D)[0]
    rejected = reference + rng.normal(size=(400, D)) - 2.0 * np.eye(D)[0]
    tuned, losses = fine_tune_on_preferences(
        head, reference, chosen, rejected, epochs=30, learning_rate=3e-3
    )
    assert tuned is not head and losses[-1] < losses[0]
    np.testing.assert_array_equal(head.score(features[:10], features[10:20]), before)
    np.testing.assert_array_equal(tuned.center, head.center)
    assert tuned.pair_accuracy(reference, chosen, rejected) > 0.9
    # a fresh head takes its standardization from the fine-tuning rows
    fresh, _ = fine_tune_on_preferences(PolarStyleHead(D), reference, chosen, rejected, epochs=1)
    np.testing.assert_allclose(fresh.center, np.concatenate([reference, chosen, rejected]).mean(0))


def test_training_is_seeded():
    policy, prompt, features = planted_zoo(2)
    triples = policy_discrimination_triples(policy, prompt, count=300, rng=np.random.default_rng(0))
    runs = [
        pretrain_policy_discriminator(
            features, triples, projection=4, hidden=4, epochs=3, batch_size=64, seed=s
        )
        for s in (0, 0, 1)
    ]
    assert runs[0][1] == runs[1][1] and runs[0][1] != runs[2][1]


def test_bad_input_is_refused():
    _, _, features = planted_zoo()
    triples = np.array([[0, 1, 2]])
    broken = features.copy()
    broken[1, 3] = np.nan
    with pytest.raises(ModelError, match="NaN or infinite") as raised:
        pretrain_policy_discriminator(broken, triples, epochs=1)
    assert isinstance(raised.value, ValueError)
    head = PolarStyleHead(D)
    infinite = features[:2].copy()
    infinite[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        head.fit(features[:2], infinite, features[2:4], epochs=1)
    with pytest.raises(ValueError, match="NaN or infinite"):
        head.score(features[0], infinite)
    for bad in (
        [[0, 1]],
        [[0, 1, len(features)]],
        [[-1, 0, 1]],
        [[0.0, 1.0, 2.0]],
        np.zeros((0, 3)),
    ):
        with pytest.raises(ShapeError, match="triples"):
            pretrain_policy_discriminator(features, np.asarray(bad), epochs=1)
    with pytest.raises(ShapeError):
        head.fit(features[:2], features[:3], features[:2], epochs=1)
    with pytest.raises(ShapeError):
        head.score(features[:3, :4], features[:3, :4])
    with pytest.raises(ShapeError):
        head.score(features[:2], features[:3])
    for setting in (
        {"epochs": 0},
        {"learning_rate": 0.0},
        {"batch_size": 0},
        {"weight_decay": -1.0},
    ):
        with pytest.raises(ConfigurationError):
            head.fit(features[:2], features[:2], features[:2], **setting)
    with pytest.raises(ConfigurationError, match="projection"):
        PolarStyleHead(D, projection=0)
