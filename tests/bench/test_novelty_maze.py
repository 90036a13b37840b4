"""The novelty-maze suite on a small budget: novelty search escapes the trap, fitness does not."""

import json

from rewardkit_bench.novelty_maze import RunSpec, main, run_one, summarize


def test_novelty_search_reaches_the_goal_and_objective_search_stays_in_the_trap():
    runs = [run_one(RunSpec(method, seed=0, generations=80)) for method in ("fitness", "novelty")]
    fitness, novelty = runs
    assert fitness["solved_at"] is None and fitness["best_fitness"] == -3.0
    assert novelty["solved_at"] is not None and novelty["final_coverage"] > 0.9
    assert novelty["archive_size"] > 0
    table = summarize(runs)
    assert table["novelty"]["seeds_solved"] == 1 and table["fitness"]["median_solved_at"] is None


def test_quick_writes_a_report(tmp_path):
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["summary"]) == {"fitness", "novelty"}
    assert "| novelty |" in (tmp_path / "report.md").read_text()
