"""The reference PPO: rewards and bonuses enter before GAE; seeded runs repeat."""

import gymnasium as gym
import minigrid  # noqa: F401
import numpy as np
import pytest
import torch

import rewardkit.train.ppo as ppo
from rewardkit.core import constant, env_reward, weighted_sum
from rewardkit.core.errors import ConfigurationError
from rewardkit.envs.minigrid import minigrid_env
from rewardkit.explore import CountBonus
from rewardkit.train.ppo import PPOConfig, PPOTrainer
from tests.reference_stats import constant_bonus_scale

CONFIG = dict(env_id="CartPole-v1", num_envs=2, num_steps=16, total_frames=64, seed=0)


@pytest.fixture
def gae_inputs(monkeypatch):
    """The rewards each GAE call of the trainer receives."""
    torch.set_num_threads(1)
    seen = []
    real_gae = ppo.generalized_advantage_estimation

    def spy(r_t, *args, **kwargs):
        seen.append(np.array(r_t))
        return real_gae(r_t, *args, **kwargs)

    monkeypatch.setattr(ppo, "generalized_advantage_estimation", spy)
    return seen


def test_rewards_and_bonus_are_added_before_gae(gae_inputs):
    seen = gae_inputs
    reward = weighted_sum([env_reward(), constant(0.25, name="alive")], name="shaped")
    config = PPOConfig(**CONFIG, normalize_intrinsic=False)
    trainer = PPOTrainer(config, reward=reward, bonus=constant(0.5, name="bonus"),
                         intrinsic_head=False)  # fmt: skip
    trainer.train()
    # CartPole pays 1 per step: GAE saw 1 + 0.25 (reward term) + 0.5 (bonus) everywhere
    assert len(seen) == 2 and all(np.allclose(r, 1.75) for r in seen)


def test_intrinsic_head_uses_a_separate_stream(gae_inputs):
    seen = gae_inputs
    config = PPOConfig(**CONFIG, normalize_intrinsic=False)
    PPOTrainer(config, bonus=constant(0.5, name="bonus"), intrinsic_head=True).train()
    extrinsic, intrinsic = seen[0], seen[1]
    assert np.allclose(extrinsic, 1.0) and np.allclose(intrinsic, 0.5)


def test_by_default_the_bonus_is_divided_by_the_std_of_its_discounted_return(gae_inputs):
    seen = gae_inputs
    log = PPOTrainer(PPOConfig(**CONFIG), bonus=constant(0.5, name="bonus")).train()
    # own head (two GAE calls per update); first rollout: 16 steps x 2 envs of 0.5
    scale = constant_bonus_scale(0.5, 0.99, steps=16, envs=2)
    assert np.allclose(seen[0], 1.0)
    np.testing.assert_allclose(seen[1], 0.5 / scale, rtol=1e-9)
    assert np.isclose(log[0]["bonus/return_std"], scale)


def test_a_bonus_that_normalizes_itself_is_not_scaled_again(gae_inputs):
    class SelfScaled(type(constant(0.5))):
        normalizes_itself = True

    seen = gae_inputs
    PPOTrainer(PPOConfig(**CONFIG), bonus=SelfScaled(0.5, name="bonus")).train()
    assert np.allclose(seen[1], 0.5)


def test_the_weight_multiplies_the_bonus_in_one_stream(gae_inputs):
    seen = gae_inputs
    config = PPOConfig(**CONFIG, intrinsic_coef=0.5, normalize_intrinsic=False)
    PPOTrainer(config, bonus=constant(0.5, name="bonus"), intrinsic_head=False).train()
    assert all(np.allclose(r, 1.0 + 0.5 * 0.5) for r in seen)


def test_two_heads_give_a_ext_plus_weight_times_a_int():
    torch.set_num_threads(1)
    config = PPOConfig(**CONFIG, intrinsic_coef=0.5, normalize_intrinsic=False)
    trainer = PPOTrainer(config, bonus=constant(0.5, name="bonus"))
    rng = np.random.default_rng(0)
    T, N = config.num_steps, config.num_envs
    roll = ppo._Rollout(
        obs=np.zeros((T, N, 4), np.float32), next_obs=np.zeros((T, N, 4), np.float32),
        actions=np.zeros((T, N), np.int64), logp=np.zeros((T, N), np.float32),
        values=rng.normal(size=(T, N, 2)).astype(np.float32),
        final_values=np.zeros((T, N, 2), np.float32),
        last_values=rng.normal(size=(N, 2)).astype(np.float32),
        rewards=np.ones((T, N)), terminated=np.zeros((T, N), bool),
        truncated=np.zeros((T, N), bool),
    )  # fmt: skip
    extrinsic, intrinsic = rng.normal(size=(T, N)), rng.random((T, N))
    both, _ = trainer._advantages(roll, extrinsic, intrinsic, weight=0.5)
    ext_only, _ = trainer._advantages(roll, extrinsic, intrinsic, weight=0.0)
    v_int = roll.values[..., 1]
    next_int = np.concatenate([v_int[1:], roll.last_values[None, :, 1]])
    a_int = ppo.generalized_advantage_estimation(
        intrinsic, v_int, next_int, np.zeros((T, N), bool), gamma=0.99, lambda_=0.95
    )
    np.testing.assert_allclose(both, ext_only + 0.5 * a_int, rtol=1e-5, atol=1e-6)


def test_episodic_intrinsic_stream_stops_at_episode_ends():
    torch.set_num_threads(1)
    config = PPOConfig(**CONFIG, normalize_intrinsic=False, intrinsic_episodic=True)
    trainer = PPOTrainer(config, bonus=constant(0.5, name="bonus"))
    rng = np.random.default_rng(1)
    T, N = config.num_steps, config.num_envs
    terminated, truncated = np.zeros((T, N), bool), np.zeros((T, N), bool)
    terminated[3, 0], truncated[5, 1] = True, True
    roll = ppo._Rollout(
        obs=np.zeros((T, N, 4), np.float32), next_obs=np.zeros((T, N, 4), np.float32),
        actions=np.zeros((T, N), np.int64), logp=np.zeros((T, N), np.float32),
        values=rng.normal(size=(T, N, 2)).astype(np.float32),
        final_values=rng.normal(size=(T, N, 2)).astype(np.float32),
        last_values=rng.normal(size=(N, 2)).astype(np.float32),
        rewards=np.ones((T, N)), terminated=terminated, truncated=truncated,
    )  # fmt: skip
    extrinsic, intrinsic = np.zeros((T, N)), rng.random((T, N))
    both, _ = trainer._advantages(roll, extrinsic, intrinsic, weight=1.0)
    ext_only, _ = trainer._advantages(roll, extrinsic, intrinsic, weight=0.0)
    v, last, final = roll.values[..., 1], roll.last_values[:, 1], roll.final_values[..., 1]
    expected = np.zeros((T, N))
    for n in range(N):  # the hand loop: no bootstrap past a termination, the final
        running = 0.0  # observation's value past a truncation, and no carry-over
        for t in reversed(range(T)):
            following = last[n] if t == T - 1 else v[t + 1, n]
            if truncated[t, n]:
                following = final[t, n]
            ended = terminated[t, n] or truncated[t, n]
            delta = intrinsic[t, n] + 0.99 * following * (not terminated[t, n]) - v[t, n]
            running = delta + 0.99 * 0.95 * running * (not ended)
            expected[t, n] = running
    np.testing.assert_allclose(both - ext_only, expected, rtol=1e-5, atol=1e-5)


def test_intrinsic_decay_scales_the_weight_by_the_failure_rate():
    bonus = constant(0.5, name="bonus")
    fixed = PPOTrainer(PPOConfig(**CONFIG, intrinsic_coef=0.5), bonus=bonus)
    config = PPOConfig(**CONFIG, intrinsic_coef=0.5, intrinsic_decay=True)
    decaying = PPOTrainer(config, bonus=bonus)
    assert [fixed.intrinsic_weight(s) for s in (0.0, 0.8)] == [0.5, 0.5]
    assert np.allclose([decaying.intrinsic_weight(s) for s in (0.0, 0.8, 1.0)], [0.5, 0.1, 0.0])


def test_seeded_runs_repeat():
    torch.set_num_threads(1)
    first = PPOTrainer(PPOConfig(**CONFIG), bonus=CountBonus(beta=0.1)).train()
    second = PPOTrainer(PPOConfig(**CONFIG), bonus=CountBonus(beta=0.1)).train()
    assert [r["policy_loss"] for r in first] == [r["policy_loss"] for r in second]


def test_minigrid_observations_and_greedy_evaluation():
    trainer = PPOTrainer(
        PPOConfig(env_id="MiniGrid-Empty-5x5-v0", num_envs=2, num_steps=16, total_frames=32),
        env_fn=minigrid_env("MiniGrid-Empty-5x5-v0"),
    )
    trainer.train()
    assert 0.0 <= trainer.evaluate(episodes=2) <= 1.0


def test_sampled_evaluation_is_seeded_and_leaves_the_training_rng_alone():
    trainer = PPOTrainer(
        PPOConfig(env_id="MiniGrid-Empty-5x5-v0", num_envs=2, num_steps=16, total_frames=32),
        env_fn=minigrid_env("MiniGrid-Empty-5x5-v0"),
    )
    trainer.train()
    state = torch.get_rng_state()
    first = trainer.evaluate(episodes=3, greedy=False, seed=5)
    assert torch.equal(state, torch.get_rng_state())
    assert trainer.evaluate(episodes=3, greedy=False, seed=5) == first


def test_frames_per_second_exclude_the_progress_callback():
    import time

    started = time.monotonic()
    log = PPOTrainer(PPOConfig(**CONFIG), progress=lambda record: time.sleep(0.25)).train()
    elapsed = time.monotonic() - started
    assert elapsed >= 0.5  # two updates, each followed by a slow callback
    assert log[-1]["fps"] > 2 * 64 / elapsed


def test_config_validation():
    from rewardkit.core import ConfigurationError

    with pytest.raises(ConfigurationError, match="divisible"):
        PPOConfig(num_envs=3, num_steps=5, minibatches=4)
    with pytest.raises(ConfigurationError, match="flat observations"):
        PPOTrainer(PPOConfig(**CONFIG), env_fn=lambda: gym.make("MiniGrid-Empty-5x5-v0"))


def test_an_env_the_generic_factory_cannot_flatten_says_to_pass_env_fn():
    from rewardkit.core import ConfigurationError

    with pytest.raises(ConfigurationError, match="env_fn"):
        PPOTrainer(PPOConfig(env_id="MiniGrid-Empty-5x5-v0", num_envs=1, minibatches=1))
    with pytest.raises(ConfigurationError, match="env_fn"):
        PPOTrainer(PPOConfig(env_id="NoSuchEnv-v9", num_envs=1, minibatches=1))


def test_the_moved_names_are_gone_from_their_old_modules():
    import rewardkit.core.compose as compose
    import rewardkit.credit.group as group

    assert not hasattr(compose, "gate") and not hasattr(group, "gdpo_advantages")
    with pytest.raises(ModuleNotFoundError):
        __import__("rewardkit.train.tiny")


def test_the_grid_cnn_gives_one_feature_vector_per_observation():
    import torch

    from rewardkit.train.ppo import grid_cnn

    encoder, size = grid_cnn((7, 7, 3))
    assert size == 64  # 7 -> conv 6 -> pool 3 -> conv 2 -> conv 1: 64 channels of 1x1
    assert tuple(encoder(torch.zeros(4, 147)).shape) == (4, 64)
    _, wide = grid_cnn((9, 9, 20))  # 9 -> 8 -> 4 -> 3 -> 2: 64 x 2 x 2
    assert wide == 256
    with pytest.raises(ConfigurationError, match="4x4"):
        grid_cnn((3, 3, 3))


def test_ppo_runs_with_the_cnn_on_a_minigrid_view():
    from rewardkit.envs.minigrid import minigrid_env

    config = PPOConfig(env_id="MiniGrid-Empty-5x5-v0", num_envs=2, num_steps=32,
                       total_frames=128, network="cnn")  # fmt: skip
    log = PPOTrainer(config, env_fn=minigrid_env("MiniGrid-Empty-5x5-v0")).train()
    assert log and log[-1]["frames"] == 128 and np.isfinite(log[-1]["fps"])
    with pytest.raises(ConfigurationError, match="image_shape"):
        PPOTrainer(PPOConfig(network="cnn"))  # CartPole's 4 values are not a 7x7x3 image
    with pytest.raises(ConfigurationError, match="network"):
        PPOConfig(network="transformer")


def test_the_numpy_rollout_pass_matches_torch_and_follows_the_optimizer():
    import torch

    from rewardkit.train.ppo_agent import _Agent

    torch.manual_seed(0)
    agent = _Agent(obs_dim=5, actions=3, hidden=8, two_heads=True)
    obs = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    _, logp, values = agent.step(obs)
    with torch.no_grad():
        expected_values = agent.values(torch.as_tensor(obs)).numpy()
        log_probs = torch.log_softmax(agent.logits(torch.as_tensor(obs)), -1).numpy()
    np.testing.assert_allclose(values, expected_values, rtol=1e-5, atol=1e-6)
    assert values.shape == (4, 2)
    with torch.no_grad():  # an in-place step, as the optimizer takes, shows through
        for parameter in agent.parameters:
            parameter.add_(0.5)
        shifted = agent.values(torch.as_tensor(obs)).numpy()
    np.testing.assert_allclose(agent.step_values(obs), shifted, rtol=1e-5, atol=1e-6)
    assert not np.allclose(shifted, expected_values)
    assert logp.shape == (4,) and np.all(logp <= 0) and np.all(logp >= log_probs.min(1) - 1e-6)
    agent.critic.double()  # new storage: the views are rebuilt, not left stale
    with torch.no_grad():
        doubled = agent.values(torch.as_tensor(obs, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(agent.step_values(obs), doubled, rtol=1e-5, atol=1e-6)


def test_actions_are_drawn_from_the_same_stream_as_categorical_draws_them():
    from rewardkit.train.ppo_agent import _sample_logits

    logits = np.log(np.array([[0.2, 0.5, 0.3]] * 20_000, dtype=np.float32))
    torch.manual_seed(1)
    actions, logp = _sample_logits(logits)
    frequencies = np.bincount(actions, minlength=3) / len(actions)
    np.testing.assert_allclose(frequencies, [0.2, 0.5, 0.3], atol=0.01)
    np.testing.assert_allclose(logp, np.log([0.2, 0.5, 0.3])[actions], rtol=1e-5)
    torch.manual_seed(1)
    expected = torch.distributions.Categorical(logits=torch.as_tensor(logits[:50])).sample()
    assert actions[:50].tolist() == expected.tolist()


def test_the_training_pass_gives_categoricals_log_prob_and_entropy():
    import torch

    from rewardkit.train.ppo_agent import _Agent

    torch.manual_seed(0)
    agent = _Agent(obs_dim=5, actions=4, hidden=8, two_heads=False)
    obs, actions = torch.randn(6, 5), torch.tensor([0, 1, 2, 3, 0, 1])
    logp, entropy, values = agent.evaluate(obs, actions)
    dist = torch.distributions.Categorical(logits=agent.logits(obs))
    torch.testing.assert_close(logp, dist.log_prob(actions))
    torch.testing.assert_close(entropy, dist.entropy())
    assert values.shape == (6, 1) and logp.requires_grad
