"""Progress on a pipe: periodic lines with an ETA instead of a bar."""

from __future__ import annotations

from rewardkit.core.progress import progress


def test_without_a_terminal_lines_with_the_eta_are_printed(capsys, monkeypatch):
    monkeypatch.setenv("REWARDKIT_PROGRESS", "0")
    assert list(progress(range(4), "work", log_every=0.0)) == [0, 1, 2, 3]
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" (")[0] for line in lines] == [f"  work: {i}/4" for i in (1, 2, 3, 4)]
    assert lines[-1].endswith("ETA 0:00)")


def test_without_log_every_nothing_is_printed_off_a_terminal(capsys, monkeypatch):
    monkeypatch.setenv("REWARDKIT_PROGRESS", "0")
    assert list(progress(iter("ab"), "quiet")) == ["a", "b"]
    assert capsys.readouterr().err == ""


def test_an_iterator_without_a_length_counts_without_a_total(capsys, monkeypatch):
    monkeypatch.setenv("REWARDKIT_PROGRESS", "0")
    list(progress(iter("abc"), "stream", log_every=0.0))
    assert capsys.readouterr().err.splitlines()[-1].startswith("  stream: 3 (")
