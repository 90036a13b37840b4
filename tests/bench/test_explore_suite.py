"""The explore-minigrid suite's pieces on a tiny budget."""

import pytest

from rewardkit.bench.explore_minigrid import DESIGNS, RunSpec, _summary, make_bonus, run_one


@pytest.mark.parametrize("design", DESIGNS)
def test_every_design_builds(design):
    bonus, own_head = make_bonus(design, seed=0)
    assert (bonus is None) == (design == "sparse")
    assert own_head == (design in ("rnd", "rdd"))


def test_run_one_and_summary():
    runs = [
        run_one(RunSpec("MiniGrid-Empty-5x5-v0", design, 0, frames=2048, evals=2))
        for design in ("sparse", "count")
    ]
    for run in runs:
        assert run["curve"] and 0.0 <= run["final_greedy_success"] <= 1.0 and run["fps"] > 0
    summary = _summary(runs)["MiniGrid-Empty-5x5-v0"]
    assert summary["sparse"]["fps_ratio_to_sparse"] == pytest.approx(1.0)
    assert summary["count"]["seeds"] == 1
