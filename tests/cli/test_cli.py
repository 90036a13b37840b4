import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rewardkit.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "examples" / "math_reward.toml"
BATCH = ROOT / "examples" / "completions.jsonl"


def test_version_and_help(capsys):
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip()
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert main([]) == 2


def test_check_prints_per_term_table_and_json(capsys, tmp_path):
    out_json = tmp_path / "report.json"
    assert main(["check", str(SPEC), "--batch", str(BATCH), "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    for name in ("correct", "format", "brevity", "total", "status: ok=8"):
        assert name in printed
    report = json.loads(out_json.read_text())
    assert report["passed"] and report["n"] == 8


@pytest.mark.parametrize(
    ("spec_text", "batch_text", "message"),
    [
        ("sum = [{term = 'nope'}]", '{"completion": "x"}', "no term named 'nope'"),
        ("name = ", '{"completion": "x"}', "not valid TOML"),
        ("term = 'exact_match'", '{"completion": "x"}\n{oops', "invalid JSON"),
        ("term = 'exact_match'", '{"completion": "x"}', "no column 'answer'"),
        (
            "term = 'length_linear'\nmax_length = nan",
            '{"completion": "x"}',
            "max_length must be a positive integer, got nan",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, spec_text, batch_text, message):
    spec = tmp_path / "spec.toml"
    spec.write_text(spec_text + "\n")
    batch = tmp_path / "batch.jsonl"
    batch.write_text(batch_text + "\n")
    assert main(["check", str(spec), "--batch", str(batch)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_failed_check_exits_1(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text("term = 'column'\ncolumn = 'score'\n")
    batch = tmp_path / "batch.jsonl"
    batch.write_text('{"score": 1.0}\n{"score": "high"}\n')
    assert main(["check", str(spec), "--batch", str(batch)]) == 2  # not numeric: bad input
    batch.write_text('{"score": 1.0}\n{"score": 1e400}\n')  # JSON parses 1e400 as inf
    assert main(["check", str(spec), "--batch", str(batch)]) == 1
    assert "check failed" in capsys.readouterr().err
    batch.write_text('{"score": null}\n{"score": null}\n')  # no sample has a reward
    assert main(["check", str(spec), "--batch", str(batch)]) == 1
    assert "no sample has a reward" in capsys.readouterr().err


def test_missing_file_and_usage_errors(capsys):
    assert main(["check", "missing.toml", "--batch", str(BATCH)]) == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["check", str(SPEC)])  # --batch is required
    assert exit_info.value.code == 2


def test_console_script_runs_as_a_process():
    result = subprocess.run(
        [sys.executable, "-m", "rewardkit", "check", str(SPEC), "--batch", str(BATCH)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "correct" in result.stdout
    terms = subprocess.run(
        [sys.executable, "-m", "rewardkit", "terms"], capture_output=True, text=True, check=True
    )
    assert "exact_match" in terms.stdout


def _subcommands(parser):
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {name: sub for action in actions for name, sub in action.choices.items()}


def test_every_subcommand_and_suite_answers_help_with_exit_0(capsys):
    from rewardkit.cli import _parser
    from rewardkit_bench.runner import SUITES

    commands = _subcommands(_parser())
    argvs = [[name, "--help"] for name in commands]
    argvs += [["audit", kind, "--help"] for kind in _subcommands(commands["audit"])]
    argvs += [["bench", suite, "--help"] for suite in SUITES] + [["bench", "-h"]]
    assert len(argvs) >= 10
    for argv in argvs:
        try:
            code = main(argv)
        except SystemExit as exit_info:
            code = exit_info.code
        assert code == 0, argv
        assert "usage" in capsys.readouterr().out.lower(), argv
