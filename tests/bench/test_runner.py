"""The shared suite driver: options, phases, resume, rerender, on a toy suite."""

import json

import pytest

from rewardkit_bench.runner import Suite, drive


class Doubling(Suite):
    """Phase one doubles 1..n; phase two, planned from its records, adds their sum."""

    name = "doubling"
    options = ("seeds", "resume", "rerender")

    def __init__(self, repeat_plan=False):
        self.repeat_plan = repeat_plan
        self.seen = []

    def add_options(self, parser):
        parser.add_argument("--n", type=int, default=3)

    def check(self, args):
        return "--n must be positive" if args.n < 1 else None

    def command(self, args):
        return f"rewardkit bench doubling --n {args.n}"

    def plan(self, args, runs):
        if self.repeat_plan:
            return [1]
        first = [i for i in range(1, args.n + 1) if i not in {r["unit"] for r in runs}]
        if first:
            return first
        total = sum(r["value"] for r in runs)
        return [] if any(r["unit"] == "sum" for r in runs) else [("sum", total)]

    def run_unit(self, unit):
        if isinstance(unit, tuple):
            return {"unit": "sum", "value": unit[1]}
        return {"unit": unit, "value": 2 * unit}

    def describe(self, run):
        return f"unit {run['unit']}"

    def on_result(self, folder, run):
        self.seen.append(run["unit"])

    def record(self, args, runs):
        return {"n": args.n, "runs": runs}

    def summarize(self, results):
        return {"total": next(r["value"] for r in results["runs"] if r["unit"] == "sum")}

    def report(self, results, plots):
        return f"# doubling\n\ntotal {results['total']}\n"


def test_phases_results_and_report(tmp_path, capsys):
    suite = Doubling()
    assert drive(suite, ["--n", "3", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["suite"] == "doubling" and results["command"].endswith("--n 3")
    assert results["total"] == 12 and "seconds" in results
    assert suite.seen == [1, 2, 3, "sum"]
    assert (tmp_path / "report.md").read_text() == "# doubling\n\ntotal 12\n"
    assert len((tmp_path / "runs.jsonl").read_text().splitlines()) == 4
    assert "[4/4] unit sum" in capsys.readouterr().out


def test_resume_runs_only_what_is_missing(tmp_path):
    (tmp_path / "runs.jsonl").write_text(json.dumps({"unit": 1, "value": 2}) + "\n")
    suite = Doubling()
    assert drive(suite, ["--n", "2", "--resume", str(tmp_path)]) == 0
    assert suite.seen == [2, "sum"]
    assert json.loads((tmp_path / "results.json").read_text())["total"] == 6


def test_rerender_rebuilds_the_report_from_results(tmp_path):
    assert drive(Doubling(), ["--out", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    (tmp_path / "report.md").unlink()
    suite = Doubling()
    assert drive(suite, ["--rerender", str(tmp_path)]) == 0
    assert (tmp_path / "report.md").read_text() == report and suite.seen == []


def test_bad_options_and_a_plan_that_never_ends(tmp_path, capsys):
    with pytest.raises(SystemExit):
        drive(Doubling(), ["--seeds", "0", "--out", str(tmp_path)])
    assert "--seeds must be positive" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        drive(Doubling(), ["--n", "0", "--out", str(tmp_path)])
    assert "--n must be positive" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        drive(Doubling(), ["--resume", str(tmp_path / "missing")])
    with pytest.raises(RuntimeError, match="already ran"):
        drive(Doubling(repeat_plan=True), ["--out", str(tmp_path)])


def test_an_option_that_quick_would_ignore_is_an_error(capsys):
    from rewardkit_bench.grpo_lab import main as grpo_lab

    with pytest.raises(SystemExit) as exit_info:
        grpo_lab(["--quick", "--steps", "20"])
    assert exit_info.value.code == 2
    assert "--quick sets --steps itself" in capsys.readouterr().err


def test_progress_lines_carry_an_eta():
    from rewardkit.core.progress import eta_text

    assert eta_text(elapsed=60.0, done=2, total=5) == "ETA 1:30"  # 30 s each, 3 to go
    assert eta_text(elapsed=7300.0, done=1, total=2) == "ETA 2:01:40"
    assert eta_text(elapsed=5.0, done=0, total=3) == "ETA ?"
    assert eta_text(elapsed=5.0, done=3, total=3) == "ETA 0:00"
