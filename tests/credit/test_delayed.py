"""Online redistribution inside a training loop: across rollouts and envs it equals the offline
RUDDER redistribution of the same predictions, every episode sums to its return, and PPO
trains with it on a delayed CartPole."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from rewardkit.adapters.gymnasium import DelayedReward
from rewardkit.core.errors import ConfigurationError
from rewardkit.core.rollout import flat_rollout_batch
from rewardkit.credit.delayed import OnlineRedistribution
from rewardkit.credit.redistribution import rudder_redistribution


def _rollouts(steps, envs, chunks, seed):
    """Random-policy delayed CartPole, time-major, cut into rollouts of ``steps`` steps."""
    rng = np.random.default_rng(seed)
    makers = [DelayedReward(gym.make("CartPole-v1", max_episode_steps=12)) for _ in range(envs)]
    obs = np.stack([m.reset(seed=seed + i)[0] for i, m in enumerate(makers)])
    out = []
    for _ in range(chunks):
        columns = {k: [] for k in ("obs", "action", "reward", "terminated", "truncated")}
        for _ in range(steps):
            actions = rng.integers(0, 2, size=envs)
            row = [m.step(int(a)) for m, a in zip(makers, actions, strict=True)]
            columns["obs"].append(obs.copy())
            columns["action"].append(actions)
            columns["reward"].append([r[1] for r in row])
            columns["terminated"].append([r[2] for r in row])
            columns["truncated"].append([r[3] for r in row])
            obs = np.stack([m.reset()[0] if r[2] or r[3] else r[0]
                            for m, r in zip(makers, row, strict=True)])  # fmt: skip
        out.append({k: np.asarray(v) for k, v in columns.items()})
    return out


def test_online_rudder_equals_the_offline_redistribution_and_keeps_every_return():
    torch.set_num_threads(1)
    term = OnlineRedistribution("rudder", obs_dim=4, actions=2, update_every=10**9, seed=0)
    chunks = _rollouts(steps=7, envs=2, chunks=6, seed=0)
    emitted = [term(flat_rollout_batch(**c)).total.reshape(7, 2) for c in chunks]
    full = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    online = np.concatenate(emitted)
    ends = full["terminated"] | full["truncated"]
    for env in range(2):
        features = np.concatenate([full["obs"][:, env], np.eye(2)[full["action"][:, env]]], axis=1)
        predictions, start = np.zeros(len(ends)), 0
        for t in range(len(ends)):  # the predictor over each episode's prefix, as it ran
            predictions[t] = term.model.predict(features[start : t + 1])[-1]
            start = t + 1 if ends[t, env] else start
        offline = rudder_redistribution(predictions, full["reward"][:, env], ends[:, env])
        np.testing.assert_allclose(online[:, env], offline, atol=1e-5)
        last = np.flatnonzero(ends[:, env])[-1]
        assert online[: last + 1, env].sum() == pytest.approx(full["reward"][: last + 1, env].sum())


def test_lare_and_progress_learn_from_finished_episodes_and_bad_settings_are_refused():
    torch.set_num_threads(1)
    for method, extra in (("progress", {}), ("lare", {"encoder": lambda o, a: [o[2], a],
                                                 "encoder_dim": 2})):  # fmt: skip
        term = OnlineRedistribution(method, obs_dim=4, actions=2, update_every=4, seed=0, **extra)
        for chunk in _rollouts(steps=12, envs=2, chunks=5, seed=1):
            out = term(flat_rollout_batch(**chunk))
            assert np.isfinite(out.total).all()
        assert term.losses and term.losses[-1] < term.losses[0]  # the model learns
    with pytest.raises(ConfigurationError, match="encoder"):
        OnlineRedistribution("lare", obs_dim=4, actions=2)
    with pytest.raises(ConfigurationError, match="rudder, lare or progress"):
        OnlineRedistribution("nope", obs_dim=4, actions=2)
    with pytest.raises(ConfigurationError, match="batch_episodes"):
        OnlineRedistribution("rudder", obs_dim=4, actions=2, batch_episodes=0)


def test_bad_input_changes_nothing_and_updates_mid_episode_keep_the_sums():
    torch.set_num_threads(1)
    term = OnlineRedistribution("rudder", obs_dim=4, actions=2, update_every=1, epochs=2)
    chunks = _rollouts(steps=5, envs=2, chunks=8, seed=3)
    bad = {k: v.copy() for k, v in chunks[0].items()}
    bad["obs"][2, 1, 0] = np.nan
    with pytest.raises(ConfigurationError, match="finite"):
        term(flat_rollout_batch(**bad))
    wrong = {k: v.copy() for k, v in chunks[0].items()}
    wrong["action"][0, 0] = 5
    with pytest.raises(ConfigurationError, match="actions must be integers"):
        term(flat_rollout_batch(**wrong))
    assert not term.episodes  # nothing was half-recorded
    emitted = np.concatenate([term(flat_rollout_batch(**c)).total.reshape(5, 2) for c in chunks])
    rewards = np.concatenate([c["reward"] for c in chunks])
    ends = np.concatenate([c["terminated"] | c["truncated"] for c in chunks])
    assert len(term.losses) >= 3  # the predictor moved between the steps of open episodes
    for env in range(2):
        last = np.flatnonzero(ends[:, env])[-1]
        assert emitted[: last + 1, env].sum() == pytest.approx(rewards[: last + 1, env].sum())
    term.reset()
    assert not term.episodes and not term.returns


def test_ppo_trains_on_delayed_cartpole_with_the_redistributed_reward():
    from rewardkit.train.ppo import PPOConfig, PPOTrainer

    config = PPOConfig(env_id="CartPole-v1", num_envs=2, num_steps=32, total_frames=256, seed=0)
    term = OnlineRedistribution("rudder", obs_dim=4, actions=2, update_every=2)
    log = PPOTrainer(config, reward=term,
                     env_fn=lambda: DelayedReward(gym.make("CartPole-v1"))).train()  # fmt: skip
    assert log[-1]["frames"] == 256 and term.finished
