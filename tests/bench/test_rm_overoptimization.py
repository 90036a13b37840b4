"""rm-overoptimization: pairs, the plan's two phases, and claims judged from the records."""

import argparse

import numpy as np
import pytest

from rewardkit.audit.overoptimization import kl_best_of_n
from rewardkit.bench.rm_lab import (
    DESIGNS,
    SELECTORS,
    LabSettings,
    ModelsUnit,
    PolicyUnit,
    preference_pairs,
)
from rewardkit.bench.rm_overoptimization import RmOveroptimization
from rewardkit.bench.runner import build_parser


def test_pairs_are_every_correct_incorrect_combination_of_one_prompt():
    rows = [{"prompt": "a="}, {"prompt": "b="}]
    texts = ["1", "2", "3", "4", "5", "6"]
    gold = np.array([1, 0, 0, 1, 1, 1])  # prompt b has no incorrect sample: no pair
    pairs = preference_pairs(rows, texts, gold, 3)
    assert sorted((p["prompt"], p["chosen"], p["rejected"]) for p in pairs) == [
        ("a=", "1", "2"),
        ("a=", "1", "3"),
    ]


def test_label_noise_swaps_about_that_share_of_pairs():
    rows = [{"prompt": f"{i}="} for i in range(400)]
    texts = ["right", "wrong"] * 400
    gold = np.array([1, 0] * 400)
    pairs = preference_pairs(rows, texts, gold, 2, label_noise=0.25, seed=1)
    swapped = np.mean([p["chosen"] == "wrong" for p in pairs])
    assert 0.2 < swapped < 0.3
    assert all(p["chosen"] == "right" for p in preference_pairs(rows, texts, gold, 2))
    with pytest.raises(ValueError, match="label_noise"):
        preference_pairs(rows, texts, gold, 2, label_noise=0.7)


def test_the_models_cache_depends_on_what_the_models_depend_on():
    base = LabSettings()
    assert base.models_key() == LabSettings(steps=5, designs=("rm",)).models_key()
    assert base.models_key() != LabSettings(label_noise=0.1).models_key()
    assert base.models_dir(2).name == "seed-2"


def _args(*argv):
    suite = RmOveroptimization()
    return suite, build_parser(suite).parse_args(list(argv))


def test_plan_trains_models_first_then_every_design_for_every_seed():
    suite, args = _args("--seeds", "2", "--designs", "rm,par")
    first = suite.plan(args, [])
    assert [type(u) for u in first] == [ModelsUnit, ModelsUnit]
    second = suite.plan(args, [{"kind": "models"}] * 2)
    assert {(u.design, u.seed) for u in second} == {("rm", 0), ("par", 0), ("rm", 1), ("par", 1)}
    assert all(isinstance(u, PolicyUnit) for u in second)
    assert suite.plan(args, [{"kind": "models"}, {"kind": "policy"}]) == []
    assert suite.check(args) is None
    assert "unknown designs" in (suite.check(_args("--designs", "rm,best")[1]) or "")
    assert "label-noise" in (suite.check(_args("--label-noise", "0.8")[1]) or "")
    quick = _args("--quick")[1]
    assert suite.seeds(quick) == 1 and suite.settings(quick).steps < LabSettings().steps


def _models_record(seed):
    ns = [1, 2, 4, 8]
    gold = {"gold": [0.1, 0.2, 0.3, 0.4], **{s: [0.1, 0.15, 0.12, 0.08] for s in SELECTORS}}
    gold["gold"] = [0.1, 0.2, 0.3, 0.4]
    return {
        "kind": "models",
        "seed": seed,
        "pairs": {"train": 100, "held_out": 20},
        "sample_accuracy": 0.08,
        "accuracy": {"rm_small": 0.6 + 0.01 * seed, "rm": 0.7, "ensemble_min": 0.71,
                     "ensemble_mean_std": 0.71, "generative": 0.65},
        "training_seconds_per_1k_pairs": {"rm_small": 3.0, "rm": 3.5},
        "generative_training_seconds": 2.0,
        "throughput": {"rm_completions_per_s": 5000.0, "generative_completions_per_s": 4000.0},
        "best_of_n": {
            s: {"n": ns, "kl": [kl_best_of_n(n) for n in ns], "gold": gold[s],
                "proxy": [0.0, 0.5, 0.8, 1.0]}
            for s in SELECTORS
        },
        "probes": {"rm": {"threshold": 0.5, "max_fpr": 0.0, "fpr": {"master_key ':'": 0.0}}},
        "seconds": 1.0,
    }  # fmt: skip


def _policy_record(design, seed, gold):
    steps = [0.0, 10.0, 20.0, 30.0, 40.0]
    curve = [
        {"step": s, "gold": g, "proxy": 0.1 * i, "optimized": 0.1 * i, "kl": 0.5 * i,
         "d": (0.5 * i) ** 0.5, "length": 10.0}
        for i, (s, g) in enumerate(zip(steps, gold, strict=True))
    ]  # fmt: skip
    peak = max(gold)
    peak_step = steps[gold.index(peak)]
    fallen = next(
        (s for s, g in zip(steps, gold, strict=True) if s > peak_step and g <= 0.9 * peak), None
    )
    return {
        "kind": "policy", "design": design, "seed": seed, "curve": curve,
        "gold_initial": gold[0], "gold_final": gold[-1], "gold_peak": peak,
        "gold_peak_step": peak_step, "gold_fell_10pct_step": fallen,
        "monitor_step": 30.0 if design == "rm" else None, "monitor_false_alarms": 0,
        "proxy_initial": 0.0, "proxy_final": 0.4, "kl_final": 2.0, "seconds": 1.0,
    }  # fmt: skip


def test_summary_judges_the_claims_from_the_records(tmp_path):
    suite, args = _args("--seeds", "3", "--designs", "rm,par,ensemble_min")
    runs = [_models_record(s) for s in range(3)]
    for seed in range(3):
        runs.append(_policy_record("rm", seed, [0.1, 0.2, 0.19, 0.15, 0.05]))
        runs.append(_policy_record("par", seed, [0.1, 0.15, 0.2, 0.2, 0.19]))
        runs.append(_policy_record("ensemble_min", seed, [0.1, 0.12, 0.14, 0.16, 0.18]))
    results = {"command": "x", "seconds": 60.0, **suite.record(args, runs)}
    results.update(suite.summarize(results))
    claims = {name: c["met"] for name, c in results["claims"].items()}
    assert claims["RM accuracy rises with data size"]
    assert claims["RL: the proxy keeps rising while gold peaks and falls (Gao et al.)"]
    assert claims["best-of-n: the proxy keeps rising while gold peaks and falls (Gao et al.)"]
    assert claims["PAR and ensemble-min keep gold near its peak where the plain RM does not"]
    # rm's gold fell 10% at step 30 and the monitor fired at 30: in time
    assert claims["the monitor fires before gold has fallen 10% from its peak"]
    assert results["policy"]["rm"]["gold_fell_step"] == 30.0
    assert results["models"]["accuracy"]["rm_small"] == pytest.approx(0.61)
    report = suite.report(results, [])
    assert "**not reproduced**" not in report and report.count("**reproduced**") == 5
    assert list(results["policy"]) == [d for d in DESIGNS if d in ("rm", "par", "ensemble_min")]
    assert isinstance(args, argparse.Namespace)
