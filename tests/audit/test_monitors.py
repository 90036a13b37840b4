"""Each monitor fires on a log built to trigger it and stays quiet on a healthy one."""

import math

import numpy as np
import pytest

from rewardkit.audit import (
    Collapse,
    Drift,
    HackingMonitor,
    ProxyGoldDivergence,
    SustainedAbove,
    TermDominance,
    default_monitors,
)


def healthy_log(steps=60, seed=0):
    rng = np.random.default_rng(seed)
    log = []
    for t in range(steps):
        progress = t / steps
        log.append(
            {
                "step": t,
                "reward": 0.3 + 0.4 * progress + rng.normal(0, 0.02),
                "gold": 0.3 + 0.35 * progress + rng.normal(0, 0.02),
                "reward_std": 0.4 + rng.normal(0, 0.02),
                "entropy": 1.5 - 0.3 * progress + rng.normal(0, 0.02),
                "frac_reward_zero_std": 0.2 + rng.normal(0, 0.02),
                "completions/mean_length": 120 + rng.normal(0, 5),
                "reward/correct": 0.5 + 0.3 * progress,
                "reward/format": 0.2,
            }
        )
    return log


def test_default_battery_is_quiet_on_a_healthy_run():
    monitor = HackingMonitor(default_monitors(gold_key="gold", parts_prefix="reward/"))
    assert monitor.replay(healthy_log()) == []


def hacked(log, key, fn):
    return [{**r, key: fn(t, r[key])} for t, r in enumerate(log)]


@pytest.mark.parametrize(
    ("monitor", "key", "fn"),
    [
        (
            ProxyGoldDivergence("reward", "gold", window=10),
            "gold",
            lambda t, v: v if t < 30 else 0.6 - 0.02 * (t - 30),
        ),
        (Collapse("reward_std", ratio=0.1), "reward_std", lambda t, v: v if t < 30 else 0.01),
        (Collapse("entropy", ratio=0.2), "entropy", lambda t, v: v if t < 30 else 0.05),
        (
            SustainedAbove("frac_reward_zero_std", 0.8),
            "frac_reward_zero_std",
            lambda t, v: v if t < 30 else 0.95,
        ),
        (
            Drift("completions/mean_length", factor=2.0),
            "completions/mean_length",
            lambda t, v: v if t < 30 else 20.0,
        ),
        (TermDominance("reward/"), "reward/format", lambda t, v: v if t < 30 else 40.0),
    ],
    ids=["divergence", "variance", "entropy", "zero_variance", "length", "dominance"],
)
def test_each_monitor_fires_on_its_pattern_and_only_then(monitor, key, fn):
    quiet = HackingMonitor([monitor]).replay(healthy_log())
    assert quiet == []
    alerts = HackingMonitor([_rebuild(monitor)]).replay(hacked(healthy_log(), key, fn))
    assert len(alerts) == 1, alerts
    assert alerts[0].step >= 30 and alerts[0].message
    assert key.split("/")[-1] in alerts[0].message or alerts[0].monitor in str(alerts[0])


def _rebuild(monitor):
    """A fresh copy of a monitor with the same settings (monitors keep state)."""
    if isinstance(monitor, ProxyGoldDivergence):
        return ProxyGoldDivergence(monitor.proxy_key, monitor.gold_key, monitor.window)
    if isinstance(monitor, Collapse):
        return Collapse(monitor.key, monitor.ratio)
    if isinstance(monitor, SustainedAbove):
        return SustainedAbove(monitor.key, monitor.threshold)
    if isinstance(monitor, Drift):
        return Drift(monitor.key, monitor.factor)
    return TermDominance(monitor.prefix)


def test_alerts_fire_once_per_episode_and_skip_missing_values():
    monitor = SustainedAbove("x", 1.0, patience=2)
    hm = HackingMonitor([monitor])
    values = [2, 2, 2, 2, 0, 2, 2, None, math.nan]
    alerts = hm.replay([{"x": v} for v in values])
    assert [a.step for a in alerts] == [1, 6]


def test_trl_callback_feeds_the_monitor():
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from rewardkit.audit.callbacks import trl_callback

    monitor = HackingMonitor([SustainedAbove("frac_reward_zero_std", 0.5, patience=1)])
    callback = trl_callback(monitor)
    state = TrainerState()
    state.global_step = 3
    callback.on_log(
        TrainingArguments(output_dir="/tmp/unused", report_to=[]),
        state,
        TrainerControl(),
        logs={"frac_reward_zero_std": 0.9},
    )
    assert monitor.alerts and monitor.alerts[0].step == 3


def test_sb3_callback_feeds_the_monitor():
    gym = pytest.importorskip("gymnasium")
    sb3 = pytest.importorskip("stable_baselines3")

    from rewardkit.audit.callbacks import sb3_callback

    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    monitor = HackingMonitor([SustainedAbove("step", -1.0, patience=1)])
    model = sb3.PPO(
        "MlpPolicy",
        gym.make("CartPole-v1"),
        n_steps=64,
        batch_size=32,
        n_epochs=1,
        seed=0,
        device="cpu",
    )
    model.learn(total_timesteps=128, callback=sb3_callback(monitor))
    assert monitor.alerts and monitor.alerts[0].step == 64  # one record per rollout
