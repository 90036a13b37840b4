"""The trainers' settings: help text on every field, and every bad value refused by name."""

from __future__ import annotations

import dataclasses
import math

import pytest

from rewardkit.core.errors import ConfigurationError
from rewardkit.core.settings import describe_settings
from rewardkit.train.grpo_config import GRPOConfig
from rewardkit.train.ppo_config import PPOConfig


@pytest.mark.parametrize("config", [GRPOConfig, PPOConfig])
def test_every_field_has_help(config):
    for item in dataclasses.fields(config):
        assert item.metadata.get("help"), item.name
    assert len(describe_settings(config).splitlines()) == len(dataclasses.fields(config))


@pytest.mark.parametrize(
    ("config", "field", "value"),
    [
        (GRPOConfig, "learning_rate", -3),
        (GRPOConfig, "learning_rate", math.nan),
        (GRPOConfig, "log_every", 0),
        (GRPOConfig, "group_size", 1),
        (GRPOConfig, "kl_coef", -0.1),
        (GRPOConfig, "temperature", math.inf),
        (GRPOConfig, "estimator", "ppo"),
        (PPOConfig, "minibatches", 0),
        (PPOConfig, "learning_rate", -1e-3),
        (PPOConfig, "gamma", 1.5),
        (PPOConfig, "network", "transformer"),
        (PPOConfig, "update_epochs", 0),
    ],
)
def test_a_bad_value_names_the_field_and_the_rule(config, field, value):
    with pytest.raises(ConfigurationError, match=rf"{config.__name__}\.{field} must "):
        config(**{field: value})


def test_grpo_config_has_no_unread_fields():
    assert "extra" not in {item.name for item in dataclasses.fields(GRPOConfig)}


def test_minibatches_that_do_not_divide_the_rollout_are_refused():
    with pytest.raises(ConfigurationError, match="divisible by minibatches"):
        PPOConfig(num_envs=3, num_steps=5, minibatches=2)
