"""steer-lab: the summary and claims from per-seed records (synthetic), and the report."""

from rewardkit.bench.steer_lab import BUDGETS, FK_KINDS, SteerLab, SteerSettings


def _seed_record(seed, smc_accuracy):
    methods = [
        {"method": "greedy", "budget": 1, "accuracy": 0.25, "tokens": 12.0, "seconds": 1.0},
        {"method": "sampling", "budget": 1, "accuracy": 0.10, "tokens": 12.0, "seconds": 1.0},
    ]
    for n in BUDGETS[1:]:
        for name, accuracy in (("bon_gold (oracle)", 0.25), ("bon_consistency", 0.2),
                               ("bon_rm", 0.15)):  # fmt: skip
            methods.append({"method": name, "budget": n, "accuracy": accuracy + seed * 0.01,
                            "tokens": 12.0 * n, "seconds": 1.0})  # fmt: skip
        for kind in FK_KINDS:
            methods.append({"method": f"smc_steps_{kind}", "budget": n, "accuracy": smc_accuracy,
                            "tokens": 12.0 * n, "seconds": 2.0})  # fmt: skip
    small = [
        {"method": "sampling", "budget": 1, "accuracy": 0.05, "tokens": 12.0, "seconds": 1.0},
        *({"method": "smc_steps_difference", "budget": n, "accuracy": 0.04 * n,
           "tokens": 12.0 * n, "seconds": 1.0} for n in BUDGETS[1:]),
    ]  # fmt: skip
    curve = {"n": [1, 2, 4, 8], "gold": [0.1, 0.16, 0.12, 0.02]}
    return {
        "seed": seed, "methods": methods, "small": small,
        "overoptimization": {"rm": curve, "consistency": curve},
        "overhead": {"sampling_s_per_token": 1e-4, "smc_s_per_token": 1.2e-4, "ratio": 1.2},
        "seconds": 1.0,
    }  # fmt: skip


def _results(smc_accuracy):
    suite = SteerLab()
    runs = [_seed_record(s, smc_accuracy) for s in range(3)]
    settings = {**vars(SteerSettings()), "bon_max": 8}
    results = {"command": "x", "settings": settings, "seeds": 3, "runs": runs}
    results.update(suite.summarize(results))
    return suite, results


def test_claims_follow_the_medians():
    suite, results = _results(smc_accuracy=0.3)
    claims = {name.split(" (")[0]: c["met"] for name, c in results["claims"].items()}
    assert claims["SMC beats best-of-N at equal tokens"]  # 0.3 vs the oracle best-of-N 0.26
    assert claims["FK steering lets a smaller model match or beat a larger model's sampling"]
    assert claims["best-of-n under rm improves then hurts gold past some n"]
    assert claims["SMC bookkeeping costs <= 30 % of the sampling time per token"]
    assert abs(results["table"]["bon_consistency"]["16"]["accuracy"] - 0.21) < 1e-9  # median
    report = suite.report(results, [])
    assert "**not reproduced**" not in report and "smc_steps_max" in report


def test_smc_no_better_than_best_of_n_is_not_a_reproduction():
    _, results = _results(smc_accuracy=0.21)
    name = next(k for k in results["claims"] if k.startswith("SMC beats"))
    assert not results["claims"][name]["met"]
