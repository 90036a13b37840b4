"""The verify-math suite: its corpora, a small run, its targets and its report."""

import json
import random

from rewardkit_bench.runner import latency_summary, markdown_table
from rewardkit_bench.verify_math import main, targets
from rewardkit_bench.verify_math_corpus import (
    GENERIC_ATTACKS,
    build_adversarial,
    build_corpus,
    load_regressions,
    render_correct,
    render_wrong,
)


def test_renderings_are_labelled_consistently():
    rng = random.Random(0)
    assert any("frac{3}{4}" in text for _, text in render_correct("3/4", rng))
    wrong = [text for _, text in render_wrong("14.870", rng)]
    assert all("14.87}" not in text for text in wrong)  # same value is not a wrong rendering
    assert all("{0}" not in text for _, text in render_wrong("0", rng))


def test_corpora_cover_their_labels_and_carry_prompts():
    items = build_corpus(per_task=2, seed=1)
    assert {item.label for item in items} == {"correct", "wrong"}
    assert len({item.task for item in items}) >= 8
    assert all(item.prompt for item in items)
    attacks = build_adversarial(per_task=2, seed=1, every=4, big_every=1000)
    assert {item.label for item in attacks} == {"adversarial"}
    assert set(GENERIC_ATTACKS) <= {item.variant for item in attacks}


def test_load_regressions(tmp_path):
    path = tmp_path / "corpus.jsonl"
    rows = [
        {"gold": "1", "completion": "1", "label": 1, "source": "tests/x.py::t"},
        {"gold": "1", "completion": "2", "label": 0, "source": "tests/x.py::t"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    items = load_regressions(path)
    assert [(i.label, i.variant) for i in items] == [("correct", "t"), ("wrong", "t")]


def test_small_run_writes_results_report_and_disagreements(tmp_path):
    corpus = tmp_path / "regressions.jsonl"
    corpus.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"gold": "-5", "completion": "-5", "label": 1},
                {"gold": "x^2+1", "completion": r"\boxed{(x+1)^2-2x}", "label": 1},
                {"gold": "x>2", "completion": r"\boxed{x<2}", "label": 0},
            ]
        )
    )
    out = tmp_path / "run"
    argv = ["--per-task", "2", "--out", str(out), "--skip-two-processes", "--timeout", "5"]
    assert main([*argv, "--regressions", str(corpus)]) == 0
    results = json.loads((out / "results.json").read_text())
    corpora = results["corpora"]
    assert corpora["regressions"]["rewardkit"]["agreement"] == 1.0
    assert corpora["regressions"]["math_verify"]["items"] == 3
    assert corpora["adversarial"]["rewardkit"]["false_positives"] == 0
    assert corpora["reasoning-gym"]["rewardkit"]["agreement"] > 0.95
    assert corpora["reasoning-gym"]["rewardkit"]["batched_equals_one_at_a_time"]
    for corpus_result in corpora.values():
        assert corpus_result["rewardkit"]["latency"]["max_ms"] < 5500
    report = (out / "report.md").read_text()
    assert report.index("regression corpus") < report.index("reasoning-gym corpus")
    assert "labels are this project's own construction" in report
    assert (out / "disagreements.md").exists()
    assert set(results["targets"]) >= {
        "regression corpus: agreement >= 0.99, 0 false positives",
        "adversarial: 0 false positives",
    }


def test_targets_report_a_miss_with_its_figure():
    def scored(agreement, false_positives, per_second, max_ms, batched=None):
        return {
            "agreement": agreement,
            "false_positives": false_positives,
            "items": 10,
            "one_at_a_time_per_second": per_second,
            "batched_per_second": batched or per_second,
            "latency": {"max_ms": max_ms},
        }

    results = {
        "config": {"timeout": 2.0},
        "corpora": {
            "regressions": {"rewardkit": scored(0.98, 1, 10, 100)},
            "reasoning-gym": {
                "rewardkit": scored(1.0, 0, 100, 100, batched=300),
                "math_verify": scored(0.9, 2, 100, 50),
            },
            "adversarial": {"rewardkit": scored(1.0, 0, 10, 2600)},
        },
    }
    found = targets(results)["targets"]
    assert not found["regression corpus: agreement >= 0.99, 0 false positives"]["met"]
    throughput = found["reasoning-gym throughput >= 10x math-verify one at a time"]
    assert not throughput["met"] and throughput["detail"].startswith("3.0x")
    assert not found["max latency <= timeout + 0.5 s, every item"]["met"]
    assert found["adversarial: 0 false positives"]["met"]


def test_helpers():
    summary = latency_summary([0.001] * 99 + [1.0])
    assert summary["p50_ms"] == 1.0 and summary["max_ms"] == 1000.0
    assert markdown_table(["a"], [[1]]).count("|") == 6
