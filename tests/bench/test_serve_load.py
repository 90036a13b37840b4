"""serve-load: the claims follow the runs (synthetic), and a short live workload and fault run
lose nothing."""

import pytest

from rewardkit_bench.serve_load import (
    BATCHES,
    CLIENTS,
    FAULTS,
    SPECS,
    LoadSettings,
    ServeLoad,
    run_fault,
    run_load,
)


def _load(spec, clients, batch, requests_per_s, p99_ms, lost=0):
    return {"kind": "load", "spec": spec, "clients": clients, "batch": batch,
            "requests_per_s": requests_per_s, "completions_per_s": requests_per_s * batch,
            "p50_ms": 1.0, "p99_ms": p99_ms, "max_ms": p99_ms, "lost": lost, "codes": {"200": 1},
            "in_process_completions_per_s": 10_000.0, "overhead": 2.0}  # fmt: skip


def _results(requests_per_s, lost=0):
    runs = [_load(s, c, b, requests_per_s, 20.0, lost if (s, c, b) == ("math", 1, 1) else 0)
            for s in SPECS for b in BATCHES for c in CLIENTS]  # fmt: skip
    runs += [{"kind": "fault", "fault": name, "passed": True, "lost": 0, "cases": {},
              "statuses": {}, "answered": 1, "refused": 0, "figures": {}}
             for name in FAULTS]  # fmt: skip
    suite = ServeLoad()
    results = {"command": "x", "settings": {"seconds": 1.0, "workers": 1, "max_requests": 1},
               "runs": runs}  # fmt: skip
    results.update(suite.summarize(results))
    return suite, results


def test_claims_follow_the_figures():
    suite, results = _results(2000.0)
    assert all(c["met"] for c in results["claims"].values())
    assert "**missed**" not in suite.report(results, [])
    _, slow = _results(500.0, lost=1)
    met = {name.split(" ")[1]: c["met"] for name, c in slow["claims"].items()}
    assert not met["1000"] and not slow["claims"]["0 lost in every run, fault runs included"]["met"]


def test_a_short_live_workload_and_the_bad_requests_fault():
    pytest.importorskip("fastapi")  # the server runs in its own process: the serve extra
    pytest.importorskip("uvicorn")
    settings = LoadSettings(seconds=0.3, max_requests=200)
    run = run_load((settings, "cheap", 2, 4))
    assert run["lost"] == 0 and run["answered"] > 0 and run["codes"] == {"200": run["answered"]}
    assert run["statuses"] == {"ok": 4 * run["answered"]} and run["overhead"] > 0
    fault = run_fault((settings, "bad_requests"))
    assert fault["passed"], fault["cases"]
