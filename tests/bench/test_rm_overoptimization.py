"""rm-overoptimization: pairs, the plan's two phases, and claims judged from the records."""

import numpy as np
import pytest

from rewardkit.audit.overoptimization import kl_best_of_n
from rewardkit_bench.rm_lab import (
    DESIGNS,
    SELECTORS,
    LabSettings,
    ModelsUnit,
    PolicyUnit,
    preference_pairs,
)
from rewardkit_bench.rm_overoptimization import RmOveroptimization
from rewardkit_bench.runner import build_parser


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
    gold = {"gold": [0.1, 0.2, 0.3, 0.4], **{s: [0.1, 0.2, 0.15, 0.05] for s in SELECTORS}}
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


def _policy_record(design, seed, gold, optimized=None):
    steps = [15.0 * i for i in range(len(gold))]
    optimized = optimized or [0.1 * i for i in range(len(gold))]
    curve = [
        {"step": s, "gold": g, "proxy": 0.1 * i, "optimized": o, "kl": 0.5 * i,
         "d": (0.5 * i) ** 0.5, "length": 10.0}
        for i, (s, g, o) in enumerate(zip(steps, gold, optimized, strict=True))
    ]  # fmt: skip
    return {
        "kind": "policy", "design": design, "seed": seed, "curve": curve,
        "gold_initial": gold[0], "gold_final": gold[-1], "gold_peak": max(gold),
        "gold_peak_step": 0.0, "gold_fell_10pct_step": None,
        "proxy_initial": 0.0, "proxy_final": 0.1 * (len(gold) - 1), "kl_final": 2.0,
        "seconds": 1.0,
    }  # fmt: skip


# gold slips a little (the monitor sees it) before it falls 10 % below its peak
HACKED = [0.1, 0.2, 0.3, 0.3, 0.3, 0.3, 0.28, 0.275, 0.275, 0.2, 0.1, 0.0, 0.0]
SUDDEN = [0.1, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.1, 0.0, 0.0, 0.0, 0.0]
KEPT = [0.1, 0.2, 0.3, 0.3, 0.3, 0.31, 0.3, 0.3, 0.3, 0.3, 0.31, 0.3, 0.3]
FLAT = [0.1] * 13


def _results(curves, seeds=3):
    suite, args = _args("--seeds", str(seeds), "--designs", ",".join(curves))
    runs = [_models_record(s) for s in range(seeds)]
    runs += [_policy_record(d, seed, gold) for seed in range(seeds) for d, gold in curves.items()]
    results = {"command": "x", "seconds": 60.0, **suite.record(args, runs)}
    results.update(suite.summarize(results))
    return suite, results


def test_summary_judges_the_claims_from_the_records():
    suite, results = _results({"rm": HACKED, "par": KEPT, "ensemble_min": KEPT})
    claims = {name: c["met"] for name, c in results["claims"].items()}
    assert claims["RM accuracy rises with data size"]
    assert claims["RL: the proxy keeps rising while gold peaks and falls (Gao et al.)"]
    assert claims["best-of-n: gold peaks and falls while the proxy rises (Gao et al.)"]
    key = "PAR and ensemble-min keep gold near its peak where the plain RM does not"
    assert claims[next(k for k in claims if k.startswith(key))]
    assert claims["the monitor fires before gold has fallen 10% from its peak"]
    rm = results["policy"]["rm"]
    assert (rm["gained"], rm["fell"], rm["kept"], rm["monitor_in_time"]) == (3, 3, 0, 3)
    assert rm["monitor_step"] < rm["fell_step"]
    assert results["models"]["accuracy"]["rm_small"] == pytest.approx(0.61)
    report = suite.report(results, [])
    assert "**not reproduced**" not in report and report.count("**reproduced**") == 5
    assert list(results["policy"]) == [d for d in DESIGNS if d in ("rm", "par", "ensemble_min")]


def test_a_mitigation_that_learns_nothing_or_a_plain_rm_that_holds_is_not_a_reproduction():
    _, flat = _results({"rm": HACKED, "par": FLAT, "ensemble_min": KEPT})
    key = next(k for k in flat["claims"] if k.startswith("PAR and ensemble-min"))
    assert not flat["claims"][key]["met"]  # PAR never gained: nothing was kept
    _, holds = _results({"rm": KEPT, "par": KEPT, "ensemble_min": KEPT})
    assert not holds["claims"][key]["met"]
    assert not holds["claims"][
        "RL: the proxy keeps rising while gold peaks and falls (Gao et al.)"
    ]["met"]
    # no run fell, so the monitor has nothing to catch in time
    monitor = "the monitor fires before gold has fallen 10% from its peak"
    assert not holds["claims"][monitor]["met"]
    # a sudden fall is caught only after it happened
    _, sudden = _results({"rm": SUDDEN, "par": KEPT})
    assert not sudden["claims"][monitor]["met"]
    assert sudden["policy"]["rm"]["monitor_in_time"] == 0 and sudden["policy"]["rm"]["fell"] == 3


def test_an_alert_before_the_peak_is_a_false_alarm():
    from rewardkit_bench.rm_claims import analyse_run

    noisy = [0.1, 0.2, 0.12, 0.05, 0.3, 0.3, 0.3, 0.3, 0.3]  # a dip on the way up
    run = _policy_record("rm", 0, noisy, optimized=[0.0, 0.1, 0.5, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0])
    seen = analyse_run(run, eval_n=512, window=4)
    assert seen["false_alarms"] == 1 and seen["monitor_step"] is None and not seen["fell"]
