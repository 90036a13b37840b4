"""multiturn-credit: the summary, claims and report from synthetic runs, and the settings key."""

import math

import pytest

from rewardkit_bench.multiturn_credit import (
    DESIGNS,
    QUICK,
    MultiturnCredit,
    MultiturnSettings,
)

FINALS = {"outcome": 0.70, "igpo": 0.85, "igpo_log": 0.72, "progress": 0.40}


def _run(design, seed, start=0.40, finals=FINALS, rate=1e-3):
    final = finals[design] + 0.01 * seed - (0.1 if rate < 1e-3 else 0.0)
    curve = [{"step": 25 * i, "episodes": 1600 * i,
              "accuracy": start + (final - start) * min(i, 8) / 8, "greedy": final}
             for i in range(11)]  # fmt: skip
    return {"design": design, "learning_rate": rate, "seed": seed, "curve": curve, "final": final,
            "final_greedy": final, "mean_accuracy": sum(c["accuracy"] for c in curve[1:]) / 10,
            "seconds_per_step": 0.2 if design == "outcome" else 0.3}  # fmt: skip


def _results(runs):
    suite = MultiturnCredit()
    results = {"command": "x", "settings": MultiturnSettings().__dict__, "runs": runs}
    results.update(suite.summarize(results))
    return suite, results


def test_summary_claims_and_report():
    runs = [_run(d, s, rate=r) for d in DESIGNS for s in range(3) for r in (5e-4, 1e-3)]
    suite, results = _results(runs)
    assert results["eval_games"] == 31 * 20
    arms = results["arms"]
    assert arms["igpo lr 0.0005"]["final"] == pytest.approx(0.76) and not arms[
        "igpo lr 0.0005"]["best"]  # fmt: skip
    designs = {row["design"]: row for row in arms.values() if row["best"]}
    assert designs["igpo"]["final"] == pytest.approx(0.86)  # the median seed
    assert designs["igpo"]["finals"] == [0.85, 0.86, 0.87]
    assert designs["igpo"]["cost_ratio"] == pytest.approx(1.5)
    target = 0.40 + 0.9 * (0.71 - 0.40)
    assert results["target"] == pytest.approx(target)
    # the 3-point moving average first passes the target later for outcome than for igpo
    assert designs["igpo"]["episodes_to_target"] < designs["outcome"]["episodes_to_target"]
    assert math.isnan(designs["progress"]["episodes_to_target"])
    assert designs["progress"]["reached"] == "0/3"
    met = {name.split(" ")[0]: claim["met"] for name, claim in results["claims"].items()}
    # 0.86 vs 0.71 is beyond two standard errors at 620 games; 0.73 vs 0.71 is not
    assert met == {"igpo": True, "igpo_log": False, "progress": False}
    report = suite.report(results, [])
    assert "**reproduced**" in report and "**not reproduced**" in report
    assert "| igpo lr 0.001 * | 0.860 |" in report
    assert designs["outcome"]["below_start"] == 0


def test_a_claim_needs_most_seeds_ahead_not_only_the_median():
    def run(design, seed, final):
        return dict(_run(design, seed), final=final)

    runs = [run("outcome", s, f) for s, f in enumerate([0.95, 0.50, 0.60])]
    runs += [run("igpo", s, f) for s, f in enumerate([0.90, 0.90, 0.30])]
    _, results = _results(runs)
    (claim,) = results["claims"].values()
    assert "ahead at 1 of 3 seeds" in claim["detail"] and not claim["met"]  # 0.90 vs 0.60


def test_no_target_when_outcome_only_does_not_improve():
    finals = dict(FINALS, outcome=0.35)
    _, results = _results([_run(d, 0, finals=finals) for d in DESIGNS])
    assert math.isnan(results["target"])
    assert all(math.isnan(v["episodes_to_target"]) for v in results["arms"].values())
    assert results["arms"]["outcome lr 0.001"]["below_start"] == 1
    with pytest.raises(ValueError, match="outcome"):
        _results([_run("igpo", 0)])


def test_the_warm_start_key_ignores_the_rl_settings():
    assert MultiturnSettings(steps=5).warm_key() == MultiturnSettings().warm_key()
    assert QUICK.warm_key() != MultiturnSettings().warm_key()  # a shorter warm start


def test_every_design_runs_end_to_end(tmp_path, monkeypatch):
    from rewardkit_bench import multiturn_credit

    monkeypatch.setattr(multiturn_credit, "CACHE", tmp_path)
    tiny = MultiturnSettings(high=7, guesses=2, n_embd=32, sft_steps=5, sft_batch=8, steps=2,
                             prompts_per_step=2, group_size=2, eval_every=1,
                             eval_samples=1)  # fmt: skip
    for design in DESIGNS:
        run = multiturn_credit.run_design((tiny, design, 1e-3, 0))
        assert [c["episodes"] for c in run["curve"]] == [0, 4, 8]
        assert 0.0 <= run["final"] <= 1.0 and run["seconds_per_step"] > 0
    assert len(list(tmp_path.glob("warmstart-*.pt"))) == 1  # trained once, then read
