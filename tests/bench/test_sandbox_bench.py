"""``rewardkit bench sandbox``: medians over seeds, ratios against the bare peer, targets."""

import math

from rewardkit_bench.sandbox import render_report, summarize


def _attack(name, escaped, user="root"):
    return {"kind": "attack", "name": name, "row": name, "escaped": escaped, "status": "ok",
            "seconds": 0.1, "detail": "", "user": user}  # fmt: skip


def _throughput(program, callers, runner, per_second, latency_ms, seed):
    return {"kind": "throughput", "name": program, "callers": callers, "runner": runner,
            "seed": seed, "programs_per_second": per_second, "median_latency_ms": latency_ms,
            "failures": 0}  # fmt: skip


def test_medians_ratios_and_targets():
    runs = [_attack("env_secret", False), _attack("early_exit", True)]
    runs.append({"kind": "attacks_as_normal_user", "name": "all", "outcomes": [
        _attack("cross_kill_threads", True)]})  # fmt: skip
    for seed, (sandbox_rate, bare_rate) in enumerate([(40, 100), (50, 90), (45, 110)]):
        runs.append(_throughput("trivial", 1, "sandbox", sandbox_rate, 20 + seed, seed))
        runs.append(_throughput("trivial", 1, "bare_subprocess", bare_rate, 10, seed))
    summary = summarize(runs)
    row = summary["throughput"]["trivial@1"]
    assert row["sandbox_per_second"] == 45 and row["bare_subprocess_per_second"] == 100
    assert math.isclose(row["ratio"], 0.45) and row["sandbox_latency_ms"] == 21
    targets = summary["targets"]
    assert targets["overhead_ms"] == {"value": 11, "target": 50.0, "met": True}
    assert targets["escapes"]["value"] == 2 and not targets["escapes"]["met"]
    assert targets["early_exit_passes"]["which"] == ["early_exit as root"]
    assert targets["cross_kills"]["which"] == ["cross_kill_threads as normal user (uid 60999)"]
    capabilities = {"backend": "bubblewrap", "network_namespace": True}
    results = {"command": "rewardkit bench sandbox", "seconds": 1.0, "seeds": 3,
               "environment": {"cpus": 2, "python": "3.11"}, "runs": runs,
               "capabilities": capabilities} | summary  # fmt: skip
    report = render_report(results)
    assert "| early_exit | root |" in report and "**missed**" in report
