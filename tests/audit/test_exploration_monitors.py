"""Exploration statistics, boundary monitors on a published training log, and B-STaR."""

from pathlib import Path

import numpy as np
import pytest

from rewardkit.audit.boundary import BoundaryShrink, SustainedBelow, exploration_monitors
from rewardkit.audit.bstar import (
    BStarCallback,
    BStarController,
    SampledGroups,
    balance_score,
)
from rewardkit.audit.exploration import (
    distinct_ratio,
    exploration_record,
    pass_at_k,
    pass_at_k_curve,
    reward_discriminability,
)
from rewardkit.audit.monitors import Collapse, HackingMonitor, default_monitors
from rewardkit.audit.training_log import read_training_log, rolling_mean, rolling_share
from rewardkit.core.errors import ConfigurationError

LOGS = Path(__file__).resolve().parents[2] / "benchmarks/corpora/grpo-logs-reasoning-from-scratch"


def test_pass_at_k_edges_and_curve():
    assert pass_at_k(5, 0, 1) == 0.0 and pass_at_k(5, 4, 2) == 1.0
    with pytest.raises(ConfigurationError, match="at least 4"):
        pass_at_k(3, 1, 4)
    curve = pass_at_k_curve([[1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 0, np.nan]], ks=(1, 2, 4))
    # the third problem has n = 3 after dropping NaN, so k = 4 is skipped for all
    assert curve == pytest.approx({1: (0.25 + 0 + 2 / 3) / 3, 2: (0.5 + 0 + 1.0) / 3})


def test_distinct_and_discriminability_against_loops():
    assert distinct_ratio([["1", "1", "2"], ["3"]]) == pytest.approx((2 / 3 + 1) / 2)
    rng = np.random.default_rng(0)
    rewards, labels = rng.normal(size=(5, 6)), rng.integers(0, 2, size=(5, 6))
    wins = pairs = 0.0
    for r, y in zip(rewards, labels, strict=True):
        for i in range(6):
            for j in range(6):
                if y[i] == 1 and y[j] == 0:
                    pairs += 1
                    wins += 1.0 if r[i] > r[j] else 0.5 if r[i] == r[j] else 0.0
    assert reward_discriminability(rewards, labels) == pytest.approx(wins / pairs)
    assert np.isnan(reward_discriminability([[1.0, 2.0]], [[1, 1]]))
    record = exploration_record([[1, 0]], answers=[["a", "b"]], rewards=[[0.9, 0.1]], ks=(1, 2))
    assert record == {"pass@1": 0.5, "pass@2": 1.0, "distinct_ratio": 1.0, "reward_auc": 1.0}


def test_boundary_shrink_and_sustained_below():
    rising_narrowing = [{"pass@1": 0.1 * t, "pass@64": 1 - 0.05 * t} for t in range(8)]
    both_rising = [{"pass@1": 0.1 * t, "pass@64": 0.5 + 0.05 * t} for t in range(8)]
    assert HackingMonitor([BoundaryShrink(window=4)]).replay(rising_narrowing)
    assert not HackingMonitor([BoundaryShrink(window=4)]).replay(both_rising)
    low = [{"reward_auc": v} for v in (0.8, 0.55, 0.52, 0.5, 0.9)]
    alerts = HackingMonitor([SustainedBelow("reward_auc", 0.6, patience=3)]).replay(low)
    assert [a.step for a in alerts] == [3]


def test_sparse_keys_neither_clear_nor_continue_a_pattern():
    # evaluations logged every third record: the collapse fires once, not at every eval
    log = [{"eval": 10.0 if t < 3 else 0.0} if t % 3 == 0 else {"loss": 1.0} for t in range(30)]
    monitor = HackingMonitor([Collapse("eval", ratio=0.5, warmup=1, patience=2)])
    assert len(monitor.replay(log)) == 1


def _published(name: str) -> list[dict]:
    """A published per-step log (one prompt of 8 rollouts a step) as TRL-like records."""
    log = [r for r in read_training_log(LOGS / name) if r.get("total_steps") == 500.0]
    log = rolling_share(log, lambda r: r.get("adv_std") == 0.0, "frac_reward_zero_std", 20)
    return rolling_mean(log, ["reward_avg", "adv_std", "entropy_avg", "avg_response_len"], 20)


def _published_monitors() -> list:
    battery = default_monitors(
        reward_std_key="adv_std", entropy_key="entropy_avg", length_key="avg_response_len"
    )
    explosion = [m for m in exploration_monitors("entropy_avg") if m.name == "entropy_explosion"]
    accuracy = Collapse("eval_acc", ratio=0.5, warmup=1, patience=2, name="eval_accuracy_collapse")
    return [*battery, *explosion, accuracy]


def test_monitors_flag_the_published_run_that_broke():
    """rasbt/reasoning-from-scratch 7_5 (GRPO + KL on Qwen3-0.6B): the run degenerates
    (reward 0, entropy near 12, responses at the length cap, MATH-500 accuracy 0)."""
    alerts = HackingMonitor(_published_monitors()).replay(_published("7_5_plus_kl_metrics.csv"))
    fired = {a.monitor: a.step for a in alerts}
    assert set(fired) == {
        "entropy_explosion",
        "length_drift",
        "zero_variance_groups",
        "reward_variance_collapse",
        "eval_accuracy_collapse",
    }
    assert max(fired.values()) <= 150  # all before the first evaluation at 0 % finished
    assert fired["entropy_explosion"] < fired["zero_variance_groups"]  # entropy warns first


def test_monitors_stay_quieter_on_the_published_run_that_held():
    """7_4 (clipped ratio): MATH-500 accuracy holds (45 -> 42); no explosion, no collapse."""
    alerts = HackingMonitor(_published_monitors()).replay(
        _published("7_4_plus_clip_ratio_metrics.csv")
    )
    fired = {a.monitor for a in alerts}
    assert not fired & {"entropy_explosion", "eval_accuracy_collapse", "reward_variance_collapse"}


def test_balance_score_by_hand():
    groups = SampledGroups(
        rewards=[[0.9, 0.8, 0.1, 0.7], [0.2, 0.1, 0.0, 0.0]],
        correct=[[1, 1, 0, 0], [1, 0, 0, 0]],
        responses=[["x", "y", "z", "w"], ["p", "q", "r", "s"]],
    )
    # tau = 0.5: query 1 selects 3, 2 distinct correct: min(2/4, 1) * 2/3; query 2 selects none
    assert balance_score(groups, 0.5, n_star=4) == pytest.approx(0.5 * 2 / 3)
    # tau = 0.15: query 2 selects one correct: min(1/4, 1) * 1
    assert balance_score(groups, 0.15, n_star=4) == pytest.approx((0.5 * 2 / 3 + 0.25) / 2)
    assert np.isnan(balance_score(groups, 5.0))


def _collapsing_sampler(temperature: float) -> SampledGroups:
    """A policy whose cool samples all say the same right thing; hot ones differ."""
    k = 8
    texts = [["same"] * k if temperature < 0.9 else [f"way {i}" for i in range(k)]] * 4
    correct = [[1] * k if temperature < 0.9 else [1] * 6 + [0] * 2] * 4
    rewards = [[float(c) for c in row] for row in correct]
    return SampledGroups(rewards, correct, texts)


def test_bstar_controller_raises_the_temperature_when_diversity_collapses():
    controller = BStarController(temperatures=(0.5, 0.7, 1.0, 1.2), thresholds=(-1.0, 0.5))
    assert controller.temperature == 0.5
    record = controller.round(_collapsing_sampler)
    assert controller.temperature >= 1.0 and record["bstar/temperature"] == controller.temperature
    assert controller.threshold == 0.5  # 6 of 6 kept right (0.75) beats 6 of 8 (0.5625)

    class Trainer:
        class config:  # noqa: N801
            temperature = 0.5

    callback = BStarCallback(BStarController((0.5, 1.0), (0.5,)), _collapsing_sampler, every=2)
    trainer, record = Trainer(), {"step": 1.0}
    callback(trainer, record)
    assert trainer.config.temperature == 0.5 and "bstar/temperature" not in record
    callback(trainer, {"step": 2.0})
    assert trainer.config.temperature == 1.0


def test_a_two_key_monitor_waits_for_both_keys():
    # gold only on eval records: training records must not clear the divergence
    log = []
    for t in range(40):
        record = {"proxy": 0.1 * t}
        if t % 4 == 0:
            record["gold"] = 1.0 - 0.1 * t
        log.append(record)
    from rewardkit.audit.monitors import ProxyGoldDivergence

    alerts = HackingMonitor([ProxyGoldDivergence("proxy", "gold", window=4)]).replay(log)
    assert len(alerts) == 1


def test_problems_with_no_scored_sample_are_skipped():
    assert pass_at_k_curve([[np.nan, np.nan], [1, 0]], ks=(1, 2)) == {1: 0.5, 2: 1.0}
    with pytest.raises(ConfigurationError):
        pass_at_k_curve([[np.nan]], ks=(1,))
