"""Signal-reading token estimators against hand-computed values and reference loops."""

import itertools

import numpy as np
import pytest

from rewardkit.core.errors import ConfigurationError, ShapeError
from rewardkit.credit.token import ESTIMATOR_NAMES, make_estimator
from rewardkit.credit.token_signals import (
    effective_rank,
    entropy_discriminator,
    entropy_discriminator_keep,
    negative_only,
    perplexity_weights,
    position_bonus,
    rank_dynamics,
    rank_shaping,
)

REWARDS, GROUP = np.array([1.0, 0.0, 1.0, 0.0]), np.array([0, 0, 0, 0])
SEQUENCES = [[5, 6], [7], [8, 9, 9], [4, 4]]


def grpo(rewards):
    """GRPO's advantage over one group (unbiased std, as rewardkit's grpo_advantages)."""
    return (rewards - rewards.mean()) / (rewards.std(ddof=1) + 1e-6)


def test_new_estimators_are_in_the_table():
    for name in ("ppl_weight", "position_bonus", "entropy_clip", "negative_only", "rank_shaped"):
        assert name in ESTIMATOR_NAMES


def test_negative_only_by_hand():
    out = make_estimator("negative_only")(REWARDS, GROUP, SEQUENCES, 0, 1)
    low = -0.866  # (0 - 0.5) / std([1, 0, 1, 0], ddof=1)
    assert [v.round(3).tolist() for v in out.values] == [[0, 0], [low], [0, 0, 0], [low, low]]
    assert negative_only([np.nan, 2.0]).tolist()[1] == 0.0


def test_perplexity_weights_by_hand():
    log_probs = [np.log([0.9, 0.9]), np.log([0.5, 0.5]), np.log([0.1, 0.1])]
    ppl = -np.log([0.9, 0.5, 0.1])
    z = (ppl - ppl.mean()) / ppl.std()
    assert perplexity_weights(log_probs, [0, 0, 0], alpha=0.1) == pytest.approx(
        np.clip(1 - 0.1 * z, 0.8, 1.2)
    )
    # an outlier outside the Tukey fences does not move the others' z
    many = [np.log([p]) for p in (0.5, 0.52, 0.48, 0.51, 1e-30)]
    inliers = -np.log([0.5, 0.52, 0.48, 0.51])
    w = perplexity_weights(many, [0] * 5, alpha=0.01)
    assert w[:4] == pytest.approx(1 - 0.01 * (inliers - inliers.mean()) / inliers.std())
    assert w[4] == 0.8
    estimator = make_estimator("ppl_weight", alpha=0.1)
    pairs = [[5, 6], [7, 8], [9, 9]]
    out = estimator(REWARDS[:3], GROUP[:3], pairs, 0, 1, token_logprobs=log_probs)
    expected = grpo(REWARDS[:3]) * perplexity_weights(log_probs, [0, 0, 0], alpha=0.1)
    assert [v[0] for v in out.values] == pytest.approx(expected, abs=1e-5)
    with pytest.raises(ShapeError):
        estimator(REWARDS[:3], GROUP[:3], SEQUENCES[:3], 0, 1, token_logprobs=log_probs)


def test_position_bonus_by_hand():
    sigmoid = 1 / (1 + np.exp(-15 * (np.arange(4) / 4 - 0.5)))
    assert position_bonus(-2.0, 4) == pytest.approx(-2.0 - 0.1 * sigmoid)
    assert position_bonus(0.05, 4)[-1] == pytest.approx(0.05 + 0.025)  # capped at |A| / 2
    estimator = make_estimator("position_bonus", start=0.5)
    early = estimator(REWARDS, GROUP, SEQUENCES, 0, 10).values
    late = estimator(REWARDS, GROUP, SEQUENCES, 5, 10).values
    assert early[2].tolist() == pytest.approx([grpo(REWARDS)[2]] * 3, abs=1e-5)
    assert late[2] == pytest.approx(position_bonus(grpo(REWARDS)[2], 3), abs=1e-5)
    with pytest.raises(ConfigurationError):
        make_estimator("position_bonus", start=0.9, stop=0.1)


def test_entropy_discriminator_by_hand():
    p, h = 0.5, 1.2
    assert entropy_discriminator([np.log(p)], [h])[0] == pytest.approx(p * (h + np.log(p)))
    # S = 0 exactly when p = e^-H: a token at the entropy's own level moves nothing
    assert entropy_discriminator([-0.7], [0.7])[0] == pytest.approx(0.0)


def test_entropy_clip_drops_only_negative_tokens_far_below_the_mean():
    log_probs = [np.log([0.9, 0.9]), np.log([0.01]), np.log([0.5, 0.5, 0.5]), np.log([0.9, 0.9])]
    entropies = [np.array([0.3, 0.3]), np.array([0.3]), np.array([0.7, 0.7, 0.7]), np.full(2, 0.3)]
    s = np.concatenate(
        [entropy_discriminator(lp, h) for lp, h in zip(log_probs, entropies, strict=False)]
    )
    mean, std = s.mean(), s.std()
    advantages = [np.full(len(x), a) for x, a in zip(SEQUENCES, grpo(REWARDS), strict=False)]
    keep = entropy_discriminator_keep(advantages, log_probs, entropies, mu=0.5)
    for a, lp, h, k in zip(advantages, log_probs, entropies, keep, strict=False):
        reference = [(ai >= 0) or (si - mean >= -0.5 * std)
                     for ai, si in zip(a, entropy_discriminator(lp, h), strict=False)]  # fmt: skip
        assert k.tolist() == reference
    assert not keep[1][0] and keep[0].all()  # the rare wrong token is dropped, the right kept
    estimator = make_estimator("entropy_clip", mu=0.5)
    out = estimator(REWARDS, GROUP, SEQUENCES, 0, 1, token_logprobs=log_probs,
                    token_entropies=entropies)  # fmt: skip
    assert out.values[1].tolist() == [0.0] and out.values[0][0] > 0


def test_effective_rank_by_hand():
    assert effective_rank(np.array([[1.0, 0.0], [-1.0, 0.0]])) == pytest.approx(1.0, abs=1e-6)
    assert effective_rank(np.eye(3)) == pytest.approx(2.0, abs=1e-6)
    z = np.diag([3.0, 1.0, 0.0, 0.0])[:, :2]
    centred = z - z.mean(0)
    sigma = np.linalg.svd(centred, compute_uv=False)
    p = sigma / sigma.sum()
    assert effective_rank(z) == pytest.approx(np.exp(-(p * np.log(p + 1e-8)).sum()))
    assert effective_rank(np.ones((1, 3))) == 0.0
    with pytest.raises(ShapeError):
        effective_rank(np.ones(3))


def test_rank_dynamics_against_a_reference_loop():
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(13, 5))
    er, erv, era = rank_dynamics(hidden, stride=3)
    points = [effective_rank(hidden[: t + 1]) for t in (3, 6, 9, 12)]
    velocity = [points[j] - np.mean(points[:j]) for j in range(1, 4)]
    acceleration = [velocity[j] - velocity[j - 1] for j in range(1, 3)]
    assert (er, erv, era) == pytest.approx(
        (effective_rank(hidden), np.mean(velocity), np.mean(acceleration))
    )
    assert rank_dynamics(hidden[:5], stride=3)[1:] == (0.0, 0.0)


def test_rank_shaping_by_hand():
    baselines = {"er": 1.0, "erv": 1.0, "era": 1.0}
    metrics = np.array([[2.0, 1.0, 1.0], [2.0, 1.0, 1.0], [0.5, 1.0, 1.0]])
    # d = (1, 0, 0): beta = 1/2, aux = tanh(1)/2; capped at |A|/2
    shaped = rank_shaping(np.array([1.0, 0.5, 1.0]), metrics, baselines)
    assert shaped == pytest.approx([1.0 + np.tanh(1) / 2, 0.75, 1.0])
    assert rank_shaping(np.array([1.0]), metrics[:1], {}).tolist() == [1.0]  # no baseline yet


def test_rank_estimator_learns_its_baselines_and_shapes_the_last_token():
    rng = np.random.default_rng(1)
    hidden = [rng.normal(size=(len(s), 4)) for s in SEQUENCES]
    estimator = make_estimator("rank_shaped", stride=1)
    first = estimator(REWARDS, GROUP, SEQUENCES, 0, 2, hidden_states=hidden)
    assert [v[-1] for v in first.values] == pytest.approx(grpo(REWARDS), abs=1e-5)
    assert set(estimator.baselines.values) == {"er", "erv", "era"}
    second = estimator(REWARDS, GROUP, SEQUENCES, 1, 2, hidden_states=hidden)
    metrics = np.array([rank_dynamics(h, 1) for h in hidden])
    base = dict(zip(("er", "erv", "era"), metrics.mean(0), strict=False))
    expected = rank_shaping(grpo(REWARDS), metrics, base)
    assert [v[-1] for v in second.values] == pytest.approx(expected, abs=1e-5)
    assert second.values[2][0] == pytest.approx(grpo(REWARDS)[2], abs=1e-5)  # only the last


def test_pass_combinations_reference():  # the unbiased estimator, against counting subsets
    from rewardkit.audit.exploration import pass_at_k

    for n, c, k in itertools.product(range(1, 7), range(0, 7), range(1, 7)):
        if c > n or k > n:
            continue
        outcomes = [1] * c + [0] * (n - c)
        subsets = list(itertools.combinations(outcomes, k))
        assert pass_at_k(n, c, k) == pytest.approx(np.mean([any(s) for s in subsets]))
