"""DrM-style perturbation as a PPO callback: a planted dormant actor is measured and reset."""

import numpy as np
import pytest
import torch

from rewardkit.core.errors import ConfigurationError
from rewardkit.train.drm import DormantPerturbation
from rewardkit.train.ppo import PPOConfig, PPOTrainer


def _trainer(frames: int = 64) -> PPOTrainer:
    config = PPOConfig(env_id="CartPole-v1", num_envs=2, num_steps=16, total_frames=frames)
    return PPOTrainer(config)


def test_a_planted_dormant_layer_is_measured_and_perturbed_with_drms_factor():
    trainer = _trainer()
    trainer.train()  # fills last_rollout and Adam's state
    first = trainer.agent.actor[0]
    with torch.no_grad():  # 48 of the first layer's 64 neurons always output 0
        first.weight[16:] = 0.0
        first.bias[16:] = 0.0
    before = first.weight.detach().clone()
    bias_before = first.bias.detach().clone()
    assert trainer.optimizer.state
    record = {"frames": 64.0}
    DormantPerturbation(every_frames=64)(trainer, record)
    # Linear outputs: 64 (first) + 64 (second) + 2 (logits); the 48 zeros are dormant, and
    # the second layer's inputs are tanh(0) = 0 there, which leaves its neurons awake
    assert record["dormant_ratio"] == pytest.approx(48 / 130, abs=2 / 130)
    alpha = float(np.clip(1 - 2 * record["dormant_ratio"], 0.2, 0.9))
    assert record["perturb_alpha"] == pytest.approx(alpha)
    after = first.weight.detach()
    assert torch.count_nonzero(after[16:]) > 0  # the dormant rows got (1 - α) φ
    # the fresh init is the agent's own: zero biases, orthogonal rows of gain sqrt(2)
    fresh_bias = (first.bias.detach() - alpha * bias_before) / (1 - alpha)
    torch.testing.assert_close(fresh_bias, torch.zeros(64), atol=1e-6, rtol=0)
    fresh = (after - alpha * before) / (1 - alpha)
    gram = fresh.T @ fresh  # 64 x 4 with orthonormal columns scaled by sqrt(2): 2·I
    torch.testing.assert_close(gram, 2 * torch.eye(4), atol=1e-4, rtol=0)
    assert not trainer.optimizer.state  # Adam's moments cleared, as DrM


def test_between_perturbations_only_the_ratio_is_logged():
    trainer = _trainer()
    trainer.train()
    weights = [p.detach().clone() for p in trainer.agent.parameters]
    record = {"frames": 32.0}
    DormantPerturbation(every_frames=64)(trainer, record)
    assert "perturb_alpha" not in record and 0.0 <= record["dormant_ratio"] <= 1.0
    assert all(torch.equal(a, b) for a, b in zip(weights, trainer.agent.parameters, strict=True))


def test_training_with_the_callback_perturbs_on_schedule():
    drm = DormantPerturbation(every_frames=64)
    config = PPOConfig(env_id="CartPole-v1", num_envs=2, num_steps=16, total_frames=160)
    log = PPOTrainer(config, callbacks=[drm]).train()
    assert [r["frames"] for r in log if "perturb_alpha" in r] == [64.0, 128.0]
    assert all("dormant_ratio" in r for r in log)


def test_bad_settings_are_refused():
    with pytest.raises(ConfigurationError, match="every_frames"):
        DormantPerturbation(every_frames=0)
