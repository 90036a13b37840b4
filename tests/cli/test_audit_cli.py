"""``rewardkit audit`` exit codes, tables and clean errors; the hacking demonstration."""

import json
from pathlib import Path

import pytest

from rewardkit.cli import main
from rewardkit_bench.reward_hacking import main as reward_hacking

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_distance_shaped_is_near_zero_and_different_is_far(tmp_path, capsys):
    out = tmp_path / "d.json"
    args = [
        "audit",
        "distance",
        str(EXAMPLES / "mountaincar_progress.toml"),
        str(EXAMPLES / "mountaincar_progress_shaped.toml"),
        "--env",
        "MountainCarContinuous-v0",
        "--steps",
        "500",
        "--json",
        str(out),
    ]
    assert main(args) == 0
    assert json.loads(out.read_text())["epic"]["distance"] < 0.01
    args[3] = str(EXAMPLES / "mountaincar_velocity.toml")
    assert main(args) == 0
    assert json.loads(out.read_text())["epic"]["distance"] > 0.3
    assert "EPIC" in capsys.readouterr().out


def test_probe_enforces_zero_fpr_for_the_verifier(tmp_path, capsys):
    out = tmp_path / "p.json"
    args = [
        "audit",
        "probe",
        str(EXAMPLES / "math_verifier.toml"),
        "--questions",
        str(EXAMPLES / "questions.jsonl"),
        "--max-fpr",
        "0",
        "--json",
        str(out),
    ]
    assert main(args) == 0
    assert json.loads(out.read_text())["max_fpr"] == 0.0
    weak = tmp_path / "weak.toml"
    weak.write_text("term = 'regex_match'\npattern = '.*'\n")  # accepts anything
    args[2] = str(weak)
    assert main(args) == 1
    assert "audit failed" in capsys.readouterr().out


def test_log_replay_from_jsonl_and_trainer_state(tmp_path, capsys):
    records = [{"step": t, "reward": 0.1 * t, "gold": 1.0 - 0.1 * t} for t in range(30)]
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert (
        main(
            [
                "audit",
                "log",
                str(tmp_path),
                "--gold-key",
                "gold",
                "--json",
                str(tmp_path / "a.json"),
            ]
        )
        == 0
    )
    assert "proxy_gold_divergence" in capsys.readouterr().out
    assert (
        main(
            [
                "audit",
                "log",
                str(log),
                "--gold-key",
                "gold",
                "--fail-on-alert",
                "--json",
                str(tmp_path / "a.json"),
            ]
        )
        == 1
    )
    state = tmp_path / "trainer_state.json"
    state.write_text(json.dumps({"log_history": [{"step": 1, "reward": 0.5}]}))
    assert main(["audit", "log", str(state), "--json", str(tmp_path / "b.json")]) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["audit", "log", "missing.jsonl"], "does not exist"),
        (["audit", "probe", "missing.toml", "--questions", "q.jsonl"], "does not exist"),
        (
            [
                "audit",
                "distance",
                str(EXAMPLES / "mountaincar_progress.toml"),
                str(EXAMPLES / "mountaincar_progress.toml"),
                "--env",
                "NoSuchEnv-v9",
            ],
            "cannot make env",
        ),
        (["audit"], "choose an audit"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_reward_hacking_demo(tmp_path):
    assert reward_hacking(["--quick", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    flawed, repaired = results["flawed"], results["repaired"]
    assert flawed["alerts"] and flawed["alerts"][0]["monitor"] == "proxy_gold_divergence"
    assert flawed["final_gold_success"] < 0.2 and flawed["epic_to_gold"] > 0.2
    assert not repaired["alerts"] and repaired["final_gold_success"] > 0.9
    assert repaired["epic_to_gold"] < 1e-6 and repaired["starc_to_gold"] < 1e-6
    assert (tmp_path / "report.md").read_text().startswith("# reward-hacking")


def test_probe_fails_a_judge_that_scores_nothing(tmp_path, capsys):
    pytest.importorskip("openai")
    spec = tmp_path / "judge.toml"  # nothing listens on port 9: every sample is an error
    spec.write_text(
        "term = 'judge_reference'\nprobability = 'text'\n"
        "judge = { model = 'm', base_url = 'http://127.0.0.1:9/v1', retries = 0 }\n"
    )
    args = ["audit", "probe", str(spec), "--questions", str(EXAMPLES / "questions.jsonl")]
    assert main([*args, "--max-fpr", "0.5"]) == 1
    assert "no probe was scored" in capsys.readouterr().out
