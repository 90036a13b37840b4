"""``rewardkit doctor`` reports versions, extras, the math pool and the sandbox."""

import json

from rewardkit.cli import main
from rewardkit.verify import sandbox_probe as probe_module


def test_doctor_reports_a_healthy_machine(tmp_path, capsys):
    path = tmp_path / "doctor.json"
    assert main(["doctor", "--json", str(path)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(path.read_text())
    assert report["versions"]["rewardkit"] and report["versions"]["numpy"]
    assert report["extras"]["dev"] == {"installed": True, "missing": []}
    assert report["math_pool"]["ok"] and report["math_pool"]["pools"]
    assert report["sandbox"]["complete"] and report["sandbox"]["trivial_run_status"] == "ok"
    for line in ("math worker pool: ok", "network_namespace    yes", "a trivial program"):
        assert line in printed


def test_doctor_fails_and_says_how_without_the_sandbox(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap
    monkeypatch.setattr(probe_module, "_capability_cache", {})
    assert main(["doctor"]) == 1
    printed = capsys.readouterr().out
    assert "bwrap not found" in printed and "apt-get install bubblewrap" in printed
