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
