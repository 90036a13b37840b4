"""RunningMeanStd, the normalizer of RND, RDD and NovelD, against a direct computation."""

import numpy as np

from rewardkit.explore.rnd import RunningMeanStd


def test_batched_updates_match_the_statistics_of_all_values_at_once():
    rng = np.random.default_rng(0)
    stats = RunningMeanStd((3,), epsilon=1e-12)  # a negligible prior
    seen = []
    for size in (1, 7, 64, 2, 300):
        batch = rng.normal(loc=[0.0, 5.0, -2.0], scale=[1.0, 0.1, 30.0], size=(size, 3))
        stats.update(batch)
        seen.append(batch)
        everything = np.concatenate(seen)
        np.testing.assert_allclose(stats.mean, everything.mean(axis=0), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(stats.var, everything.var(axis=0), rtol=1e-9, atol=1e-9)
    assert np.isclose(stats.count, sum(len(b) for b in seen))


def test_the_prior_is_one_pseudo_observation_of_mean_0_and_variance_1():
    stats = RunningMeanStd(())
    stats.update(np.array([2.0, 4.0]))
    prior, n = 1e-4, 2
    mean = 3.0 * n / (n + prior)
    var = (prior * 1.0 + n * 1.0 + 3.0**2 * prior * n / (n + prior)) / (n + prior)
    assert np.isclose(stats.mean, mean) and np.isclose(stats.var, var)
