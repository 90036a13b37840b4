"""Sum decompositions (LaRe's decoder, SPA's progress estimator): a known linear latent reward
is recovered from episode sums alone, and bad input is refused."""

import numpy as np
import pytest
import torch

from rewardkit.core.errors import ConfigurationError
from rewardkit.models.decomposition import LatentRewardDecoder, ProgressEstimator


def test_lare_recovers_a_known_linear_latent_reward_from_episode_returns():
    torch.set_num_threads(1)
    weights = np.array([0.5, -1.0, 2.0])
    rng = np.random.default_rng(0)

    def encoder(observation, action):  # the task's latent factors of a step
        return [observation[0], observation[1] * action, action]

    decoder = LatentRewardDecoder(encoder, feature_dim=3, seed=0)
    episodes, true_steps = [], []
    for _ in range(300):
        length = int(rng.integers(3, 9))
        observations = rng.normal(size=(length, 2))
        actions = rng.integers(0, 2, size=length).astype(float)
        features = decoder.encode(observations, actions)
        step_rewards = features @ weights
        episodes.append((features, float(step_rewards.sum())))  # only the sum is seen
        true_steps.append(step_rewards)
    loss = decoder.update(episodes, epochs=1500)
    assert loss < 1e-3
    for (features, _), steps in list(zip(episodes, true_steps, strict=True))[:20]:
        np.testing.assert_allclose(decoder.step_rewards(features), steps, atol=0.05)


def test_spa_increments_sum_to_the_outcome_and_credit_the_steps_that_progressed():
    torch.set_num_threads(1)
    rng = np.random.default_rng(1)
    estimator = ProgressEstimator(feature_dim=2, hidden=16, seed=0)
    episodes = []
    for _ in range(200):  # the outcome is the share of the 4 steps that moved forward
        forward = rng.integers(0, 2, size=4)
        features = np.stack([forward, 1 - forward], axis=1).astype(np.float32)
        episodes.append((features, float(forward.sum() / 4)))
    estimator.update(episodes, epochs=1000)
    mixed = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    increments = estimator.step_rewards(mixed)
    np.testing.assert_allclose(increments, [0.25, 0.0, 0.25, 0.25], atol=0.03)
    assert increments.sum() == pytest.approx(0.75, abs=0.05)


def test_bad_input_is_refused():
    decoder = LatentRewardDecoder(lambda o, a: [o], feature_dim=1)
    with pytest.raises(ConfigurationError, match="shape"):
        decoder.step_rewards(np.zeros((2, 3)))
    with pytest.raises(ConfigurationError, match="finite"):
        decoder.update([(np.zeros((2, 1)), float("inf"))])
    with pytest.raises(ConfigurationError, match="observations"):
        decoder.encode([1.0, 2.0], [0])
    with pytest.raises(ConfigurationError, match="encoder"):
        LatentRewardDecoder("not a function", feature_dim=1)


# ------------------------------------------------------------------ pairwise (BT) step rewards
def test_pairwise_step_reward_loss_by_hand() -> None:
    from rewardkit.models.decomposition import PairwiseStepReward

    model = PairwiseStepReward(feature_dim=1, hidden=0, seed=0)
    linear = model.regressor.net[0]
    with torch.no_grad():
        linear.weight.fill_(0.5)
        linear.bias.fill_(-0.25)
    a, b = np.array([[1.0], [2.0]]), np.array([[0.0]])
    loss = model.update([a, b], [(0, 1)], [1], epochs=1)  # the loss before the step
    s_a, s_b = 0.5 * 3 - 0.25 * 2, -0.25
    assert loss == pytest.approx(-np.log(1 / (1 + np.exp(-(s_a - s_b)))), abs=1e-6)
    fresh = PairwiseStepReward(feature_dim=1, hidden=0, seed=0)
    with torch.no_grad():
        fresh.regressor.net[0].weight.fill_(0.5)
        fresh.regressor.net[0].bias.fill_(-0.25)
    flipped = fresh.update([a, b], [(0, 1)], [-1], epochs=1)
    assert flipped == pytest.approx(-np.log(1 / (1 + np.exp(s_a - s_b))), abs=1e-6)


def test_pairwise_step_reward_learns_which_steps_make_an_episode_preferred() -> None:
    """Episodes are preferred by how many 'good' steps (feature 1 on) they hold; the
    learned step reward pays good steps more, though it only ever saw pair labels."""
    from rewardkit.models.decomposition import PairwiseStepReward

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    episodes, goods = [], []
    for _ in range(60):
        length = int(rng.integers(3, 8))
        good = rng.integers(0, 2, size=length)
        episodes.append(np.stack([good, 1 - good], axis=1).astype(float))
        goods.append(int(good.sum()) - int((1 - good).sum()))
    pairs = [(i, j) for i in range(60) for j in range(i + 1, 60) if goods[i] != goods[j]]
    labels = [1 if goods[i] > goods[j] else -1 for i, j in pairs]
    model = PairwiseStepReward(feature_dim=2, hidden=0, seed=0)
    model.update(episodes, pairs, labels, epochs=300, batch_pairs=128)
    good_step, bad_step = model.step_rewards(np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert good_step > bad_step + 0.5


def test_pairwise_step_reward_refuses_bad_pairs() -> None:
    from rewardkit.models.decomposition import PairwiseStepReward

    model = PairwiseStepReward(feature_dim=1)
    one = [np.ones((2, 1)), np.ones((1, 1))]
    with pytest.raises(ConfigurationError, match="pair"):
        model.update(one, [], [], epochs=1)
    with pytest.raises(ConfigurationError, match=r"\+1"):
        model.update(one, [(0, 1)], [0], epochs=1)
    with pytest.raises(ConfigurationError, match="indices"):
        model.update(one, [(0, 2)], [1], epochs=1)
    with pytest.raises(ConfigurationError, match="finite"):
        model.update([np.ones((2, 1)), np.array([[np.nan]])], [(0, 1)], [1], epochs=1)
