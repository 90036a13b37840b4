"""The explore-minigrid suite's pieces on a tiny budget."""

import pytest

from rewardkit_bench.explore_designs import (
    DESIGN_LABELS,
    DESIGN_TABLE,
    DESIGNS,
    design_spec,
    make_terms,
)
from rewardkit_bench.explore_minigrid import RunSpec, main, run_one
from rewardkit_bench.explore_report import best_designs, summarize_runs


@pytest.mark.parametrize("design", DESIGNS)
def test_every_design_builds_and_is_labelled(design):
    reward, bonus = make_terms(design, seed=0)
    table = DESIGN_TABLE[design]
    assert (bonus is None) == (design in ("sparse", "shaping", "drm"))
    assert (bonus is None) == (table.spec is None or not table.bonus)
    assert (reward is None) == (design != "shaping")
    assert table.drm == (design == "drm")  # DrM-style is a trainer callback, not a term
    assert DESIGN_LABELS[design].startswith(design)


@pytest.mark.parametrize(
    "design", [d for d in DESIGNS if DESIGN_TABLE[d].bonus and DESIGN_TABLE[d].spec]
)
def test_every_bonus_runs_with_its_shipped_defaults(design):
    spec = design_spec(design, seed=3)
    assert spec is not None and set(spec) <= {"term", "seed"}


def test_run_one_and_summary():
    runs = [
        run_one(RunSpec("MiniGrid-Empty-5x5-v0", design, 0, frames=2048, evals=2))
        for design in ("sparse", "count", "shaping")
    ]
    for run in runs:
        assert run["curve"] and run["fps"] > 0
        assert len(run["evals"]) == 2
        assert 0.0 <= run["final_success"] <= 1.0 and 0.0 <= run["final_greedy_success"] <= 1.0
    summary = summarize_runs(runs)["MiniGrid-Empty-5x5-v0"]
    assert summary["sparse"]["fps_ratio_to_sparse"] == pytest.approx(1.0)
    assert summary["count"]["seeds"] == 1 and summary["shaping"]["frames"] == 2048


def _row(frames_to, seeds_solved, success, frames=100):
    return {
        "frames_to_0.9": frames_to,
        "seeds_solved": seeds_solved,
        "mean_final_success": success,
        "frames": frames,
    }


def test_best_designs_ranks_tasks_then_seeds_then_frames_then_success():
    summary = {
        "A": {
            "sparse": _row(10, 3, 1.0),
            "x": _row(50, 2, 1.0),
            "y": _row(20, 3, 1.0),
            "z": _row(None, 1, 0.4),
            "w": _row(None, 0, 0.8),
        },
        "B": {
            "sparse": _row(None, 0, 0.0),
            "x": _row(60, 2, 0.9),
            "y": _row(None, 0, 0.5),
            "z": _row(None, 0, 0.1),
            "w": _row(None, 0, 0.1),
        },
    }
    # x solves both tasks, y one; z beats w on seeds that reached 0.9 despite lower success;
    # sparse is never a candidate
    assert best_designs(summary, 2) == ["x", "y"]
    # a shaping design is task knowledge, never "the best bonus"
    shaped = {task: {**designs, "shaping": designs["x"]} for task, designs in summary.items()}
    assert "shaping" not in best_designs(shaped, 5)
    assert best_designs(summary, 5) == ["x", "y", "z", "w"]


def test_bad_arguments_exit_with_a_message(capsys):
    with pytest.raises(SystemExit):
        main(["--designs", "sparse,curiosity"])
    assert "unknown designs" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--seeds", "0"])
    with pytest.raises(SystemExit):
        main(["--quick", "--full"])


def test_full_plan_runs_both_phases_and_writes_the_report(monkeypatch, tmp_path):
    import json

    pytest.importorskip("torch")
    pytest.importorskip("minigrid")
    import rewardkit_bench.explore_minigrid as suite

    monkeypatch.setitem(suite.FULL_PLAN, "first_tasks", {"MiniGrid-Empty-5x5-v0": 1024})
    monkeypatch.setitem(suite.FULL_PLAN, "first_designs", ("sparse", "count", "ecount"))
    monkeypatch.setitem(suite.FULL_PLAN, "later_tasks", {"MiniGrid-Empty-6x6-v0": 1024})
    monkeypatch.setitem(suite.FULL_PLAN, "best", 1)
    assert main(["--full", "--seeds", "1", "--evals", "1", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["summary"]) == {"MiniGrid-Empty-5x5-v0", "MiniGrid-Empty-6x6-v0"}
    assert len(results["summary"]["MiniGrid-Empty-6x6-v0"]) == 2  # sparse + the best bonus
    assert len((tmp_path / "runs.jsonl").read_text().splitlines()) == 5
    report = (tmp_path / "report.md").read_text()
    assert "--full --seeds 1" in report and "## MiniGrid-Empty-6x6-v0" in report
    assert "## Paper claims and what we measured" in report
    # resuming a finished run runs nothing again and writes the same tables
    assert main(["--full", "--seeds", "1", "--evals", "1", "--resume", str(tmp_path)]) == 0
    assert len((tmp_path / "runs.jsonl").read_text().splitlines()) == 5
    assert (tmp_path / "report.md").read_text() == report
    # the report is rebuilt from results.json alone
    (tmp_path / "report.md").unlink()
    assert main(["--rerender", str(tmp_path)]) == 0
    assert (tmp_path / "report.md").read_text() == report


def test_scale_multiplies_the_intrinsic_weight_and_ablations_reach_the_config(monkeypatch):
    import rewardkit.train.ppo as ppo

    weights = []
    real = ppo.PPOTrainer.__init__

    def spy(self, config, *args, **kwargs):
        weights.append((config.intrinsic_coef, config.network, config.intrinsic_decay))
        real(self, config, *args, **kwargs)

    monkeypatch.setattr(ppo.PPOTrainer, "__init__", spy)
    run_one(RunSpec("MiniGrid-Empty-5x5-v0", "count", 0, frames=1024, evals=1, scale=0.1,
                    network="cnn", intrinsic_decay=True))  # fmt: skip
    assert weights == [(pytest.approx(0.1 * ppo.PPOConfig.intrinsic_coef), "cnn", True)]
