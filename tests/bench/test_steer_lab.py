"""steer-lab: the summary and claims from per-task, per-seed records (synthetic), and the report."""

from rewardkit_bench.steer_lab import (
    BUDGETS,
    FK_KINDS,
    SMC_BUDGETS,
    STEERING_SCORERS,
    SteerLab,
    SteerSettings,
)


def _record(task, seed, smc_accuracy, prm_accuracy):
    def row(method, n, accuracy, tokens_per_sample=12.0):
        return {"method": method, "budget": n, "accuracy": accuracy,
                "tokens": tokens_per_sample * n, "seconds": 1.0}  # fmt: skip

    methods = [row("greedy", 1, 0.25), row("sampling", 1, 0.10)]
    for n in BUDGETS[1:]:
        selectors = {"bon_gold (oracle)": 0.25, "bon_consistency": 0.2, "bon_rm": 0.15,
                     "bon_prm": 0.15, "bon_value": 0.12}  # fmt: skip
        for name, accuracy in selectors.items():
            methods.append(row(name, n, accuracy + seed * 0.01))
        if n in SMC_BUDGETS:
            methods += [row(f"smc_steps_{kind}", n, smc_accuracy) for kind in FK_KINDS]
            methods += [row("smc_prm", n, prm_accuracy), row("smc_value", n, 0.1)]
            methods += [row(f"vgd_{name}", n, 0.11) for name in STEERING_SCORERS]
    small = [row("sampling", 1, 0.05),
             *(row("smc_steps_difference", n, 0.04 * n) for n in SMC_BUDGETS)]  # fmt: skip
    curve = {"n": [1, 2, 4, 8], "gold": [0.1, 0.16, 0.12, 0.02]}
    flat = {"n": [1, 2, 4, 8], "gold": [0.1, 0.12, 0.14, 0.15]}
    return {
        "task": task, "seed": seed, "methods": methods, "small": small,
        "overoptimization": {"rm": curve, "prm": flat, "value": flat},
        "overhead": {"sampling_s_per_token": 1e-4, "smc_s_per_token": 1.2e-4, "ratio": 1.2},
        "seconds": 1.0,
    }  # fmt: skip


def _results(smc_accuracy, prm_accuracy=0.5):
    suite = SteerLab()
    runs = [_record(task, s, smc_accuracy, prm_accuracy)
            for task in ("carries", "chain_sum") for s in range(3)]  # fmt: skip
    settings = {**vars(SteerSettings()), "bon_max": 8}
    results = {"command": "x", "settings": settings, "runs": runs}
    results.update(suite.summarize(results))
    return suite, results


def _met(results, task):
    prefix = f"[{task}] "
    return {name.removeprefix(prefix).split(" (")[0]: c["met"]
            for name, c in results["claims"].items() if name.startswith(prefix)}  # fmt: skip


def test_claims_follow_the_medians_per_task():
    suite, results = _results(smc_accuracy=0.5)
    for task in ("carries", "chain_sum"):
        claims = _met(results, task)
        assert claims["SMC beats best-of-N at equal tokens, process oracle"]  # 0.5 vs 0.26
        assert claims["SMC beats best-of-N at equal tokens under the same learned PRM"]
        assert not claims["value-guided decoding beats best-of-N under the same value head at "
                          "equal tokens"]  # 0.11 vs 0.13  # fmt: skip
        assert claims["FK steering lets a smaller model match or beat a larger model's sampling"]
        assert claims["best-of-n under rm improves then hurts gold past some n"]
        assert not claims["best-of-n under prm improves then hurts gold past some n"]
        assert claims["SMC bookkeeping costs <= 30 % of the sampling time per token"]
        table = results["tasks"][task]["table"]
        assert abs(table["bon_consistency"]["16"]["accuracy"] - 0.21) < 1e-9  # the median
    report = suite.report(results, [])
    assert "reasoning-gym chain_sum" in report and "vgd_value" in report


def test_smc_no_better_than_best_of_n_or_within_the_noise_is_not_a_reproduction():
    _, results = _results(smc_accuracy=0.21, prm_accuracy=0.15)
    claims = _met(results, "chain_sum")
    assert not claims["SMC beats best-of-N at equal tokens, process oracle"]
    assert not claims["SMC beats best-of-N at equal tokens under the same learned PRM"]
    # +15 % (0.30 vs 0.26) on 100 problems is within two standard errors
    _, results = _results(smc_accuracy=0.3, prm_accuracy=0.15)
    assert not _met(results, "carries")["SMC beats best-of-N at equal tokens, process oracle"]
