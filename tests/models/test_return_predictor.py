"""The RUDDER return predictor learns a toy MDP's returns, and its redistribution recovers the
steps' own rewards."""

import numpy as np
import pytest
import torch

from rewardkit.core.errors import ConfigurationError
from rewardkit.credit.redistribution import rudder_redistribution
from rewardkit.models.return_predictor import ReturnPredictor


def _episodes(count, length, seed):
    """Each step's feature says which of +1 / -1 it earned; the return is their sum."""
    rng = np.random.default_rng(seed)
    episodes = []
    for _ in range(count):
        earned = rng.choice([-1.0, 1.0], size=length)
        features = np.stack([(earned > 0), (earned < 0)], axis=1).astype(np.float32)
        episodes.append((features, float(earned.sum()), earned))
    return episodes


def test_a_trained_predictor_redistributes_a_delayed_return_to_the_steps_that_earned_it():
    torch.set_num_threads(1)
    predictor = ReturnPredictor(feature_dim=2, hidden=16, seed=0)
    train = _episodes(200, 6, seed=0)
    loss = predictor.update([(f, g) for f, g, _ in train], epochs=150)
    # the best possible all-step loss: after step t the 5 - t unseen steps add variance
    # 5 - t, so mean_t (5 - t) = 2.5 for episodes of 6 steps
    assert loss < 2.5 + 0.3
    redistributed, earned = [], []
    for features, total, steps in _episodes(20, 6, seed=1):
        delayed = np.zeros(6)
        delayed[-1] = total
        ends = np.zeros(6, dtype=bool)
        ends[-1] = True
        out = rudder_redistribution(predictor.predict(features), delayed, ends)
        assert out.sum() == pytest.approx(total)
        redistributed.append(out[:-1])  # the last step also carries the leftover error
        earned.append(steps[:-1])
    correlation = np.corrcoef(np.concatenate(redistributed), np.concatenate(earned))[0, 1]
    assert correlation > 0.9


def test_bad_episodes_are_refused():
    predictor = ReturnPredictor(feature_dim=2)
    with pytest.raises(ConfigurationError, match="shape"):
        predictor.predict(np.zeros((3, 5)))
    with pytest.raises(ConfigurationError, match="finite"):
        predictor.update([(np.zeros((2, 2)), float("nan"))])
    with pytest.raises(ConfigurationError, match="at least one"):
        predictor.update([])
