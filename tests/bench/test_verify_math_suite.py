"""The verify-math suite builds a labelled corpus and writes its results (small run)."""

import json
import random

from rewardkit.bench.runner import latency_summary, markdown_table
from rewardkit.bench.verify_math import main
from rewardkit.bench.verify_math_corpus import build_corpus, render_correct, render_wrong


def test_renderings_are_labelled_consistently():
    rng = random.Random(0)
    assert any("frac{3}{4}" in text for _, text in render_correct("3/4", rng))
    wrong = [text for _, text in render_wrong("14.870", rng)]
    assert all("14.87}" not in text for text in wrong)  # same value is not a wrong rendering
    assert all("{0}" not in text for _, text in render_wrong("0", rng))


def test_corpus_covers_every_label():
    items = build_corpus(per_task=2, seed=1, adversarial_every=4, big_every=1000)
    labels = {item.label for item in items}
    assert labels == {"correct", "wrong", "adversarial"}
    assert len({item.task for item in items}) >= 8


def test_small_run_writes_results(tmp_path):
    assert main(["--per-task", "3", "--out", str(tmp_path), "--skip-peer", "--timeout", "5"]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    rewardkit = results["rewardkit"]
    assert rewardkit["adversarial_false_positives"] == 0
    assert rewardkit["agreement"] > 0.95
    assert rewardkit["latency"]["max_ms"] < 5500


def test_helpers():
    summary = latency_summary([0.001] * 99 + [1.0])
    assert summary["p50_ms"] == 1.0 and summary["max_ms"] == 1000.0
    assert markdown_table(["a"], [[1]]).count("|") == 6
