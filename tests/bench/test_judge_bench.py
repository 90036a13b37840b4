"""judge suite: its data, its accounting of a fault run, its plan and --resume, the claims and
report from results alone (the hook section included), all without a server."""

import asyncio
import json
import math

import numpy as np
import pytest

pytest.importorskip("rewardkit.judge")  # the judge extra

from rewardkit.core.output import RewardOutput
from rewardkit_bench import judge as suite_module
from rewardkit_bench.judge import QUICK, SIZES, JudgeBench, main, unit_cost
from rewardkit_bench.judge_data import (
    InChunks,
    as_batch,
    corpus_rule,
    labelled_subset,
    right_wrong_pairs,
    stated_number,
    unclear_subset,
)
from rewardkit_bench.judge_faults import account
from rewardkit_bench.judge_quality import auc, letter_template
from rewardkit_bench.judge_report import render, summarize
from rewardkit_bench.judge_speed import TimedClient, status_counts
from rewardkit_bench.runner import SUITES, build_parser


def row(question, label, status="stated", completion="c", gold="1"):
    return {
        "question": question,
        "label": label,
        "status": status,
        "completion": completion,
        "gold": gold,
    }


ROWS = [
    row("a", 1, completion="a1"),
    row("a", 0, completion="a0"),
    row("a", None, "unclear"),
    row("b", 1, completion="b1"),
    row("c", 0, completion="c0"),
    row("c", 0, "none", "c00"),
    row("d", 1, completion="d1"),
    row("d", 0, completion="d0"),
]


def test_the_suite_is_registered():
    assert SUITES["judge"] == "rewardkit_bench.judge:main"


def test_subsets_are_seeded_and_labelled():
    first = labelled_subset(ROWS, 4, 0)
    assert first == labelled_subset(ROWS, 4, 0) and len(first) == 4
    assert all(r["label"] is not None for r in first)
    assert labelled_subset(ROWS, 100, 0) == [r for r in ROWS if r["label"] is not None]
    assert [r["status"] for r in unclear_subset(ROWS, 5, 0)] == ["unclear"]
    batch = as_batch(first)
    assert set(batch) == {"prompt", "completion", "answer"} and len(batch["prompt"]) == 4


def test_pairs_are_a_right_and_a_wrong_answer_to_one_question():
    pairs = right_wrong_pairs(ROWS, 10, 0)
    assert sorted(q for q, _, _ in pairs) == ["a", "d"]  # b has no wrong, c no right answer
    for question, right, wrong in pairs:
        assert (right, wrong) == (question + "1", question + "0")
    assert len(right_wrong_pairs(ROWS, 1, 0)) == 1


def test_the_corpus_rule_and_the_final_number():
    out = corpus_rule(
        {
            "completion": ["5 + 2 = 7", "So 3 - 1 = 3.", "No idea.", "Take 4 and 1."],
            "answer": ["7", "2", "5", "5"],
        }
    )
    assert out.total[:3].tolist() == [1.0, 0.0, 0.0] and math.isnan(out.total[3])
    assert stated_number("The answer is -4.") == "-4"
    assert stated_number("Thought process:") is None and stated_number("Take 4 and 1.") is None


def test_in_chunks_is_one_call_in_pieces():
    from rewardkit.core.term import term

    @term
    def length(completion):
        return [None if c == "" else float(len(c)) for c in completion]

    batch = {"completion": ["a", "bb", "", "dddd", "eeeee"]}
    whole, pieces = length(batch), InChunks(length, "test", size=2)(batch)
    assert np.array_equal(whole.total, pieces.total, equal_nan=True)
    assert np.array_equal(whole.status, pieces.status) and pieces.terms["length"].shape == (5,)


def test_account_finds_scores_failures_and_losses():
    out = RewardOutput(
        np.array([1.0, 0.0, np.nan, np.nan, np.nan]),
        {},
        np.array([0, 0, 3, 2, 3], np.int8),
        (None, None, "connection failed", "no answer within deadline_s=30", None),
    )
    found = account(out, 6)
    assert (found["scored"], found["failed"], found["scored_by_failure"]) == (2, 2, 0)
    assert found["lost"] == 2  # an error without a reason, and a row missing from the output
    assert status_counts(out.status) == {"error": 2, "ok": 2, "timeout": 1}


def test_account_catches_a_score_out_of_range():
    out = RewardOutput(np.array([1.5]), {}, np.array([0], np.int8), (None,))
    assert account(out, 1)["scored_by_failure"] == 1


def test_auc_by_hand():
    assert auc([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0]) == 1.0
    assert auc([0.1, 0.5, 0.5, 0.9], [1, 1, 0, 0]) == pytest.approx((0 + 0.5 + 0 + 0) / 4)
    assert math.isnan(auc([0.1, 0.2], [1, 1]))
    assert auc([0.3, float("nan"), 0.1], [1, 1, 0]) == 1.0


def test_the_letter_template_fills_the_pairwise_fields():
    fields = set(letter_template().fields)
    assert fields == {"question", "response_a", "response_b"}


def test_the_timed_client_records_each_answered_call_and_skips_cache_hits(monkeypatch):
    from rewardkit.judge import ChatRequest, JudgeFailure, Reply
    from rewardkit.judge.client import JudgeClient

    answers = iter([Reply("a", seconds=0.25), Reply("b", cached=True), JudgeFailure(3, "x")])

    async def scripted(self, request):
        return next(answers)

    client = TimedClient(judge_settings_for_test())
    monkeypatch.setattr(JudgeClient, "complete", scripted)  # the parent's answer, scripted
    for _ in range(3):
        asyncio.run(client.complete(ChatRequest.user("q")))
    assert client.latencies == [0.25]


def judge_settings_for_test():
    from rewardkit.judge import JudgeSettings

    return JudgeSettings(model="m", base_url="http://127.0.0.1:9/v1")


def args_of(*argv):
    return build_parser(JudgeBench()).parse_args(list(argv))


def test_the_plan_quick_full_and_resumed(monkeypatch):
    monkeypatch.setattr(suite_module, "authoring_module", lambda: None)
    suite = JudgeBench()
    quick = suite.plan(args_of("--quick"), [])
    assert quick == [
        ("agreement", 0),
        ("probes", 0),
        ("position", 0),
        ("speed", "default", 0),
        ("faults", 0),
    ]
    full = suite.plan(args_of("--seeds", "2"), [])
    assert ("speed", "continuous", 1) in full and ("faults", 1) in full and len(full) == 9
    assert all(
        u[1] != "continuous"
        for u in suite.plan(args_of("--no-continuous-batching"), [])
        if u[0] == "speed"
    )
    done = [
        {"kind": "agreement", "sizes": dict(QUICK)},
        {"kind": "speed", "mode": "default", "seed": 0, "sizes": dict(QUICK)},
    ]
    assert suite.plan(args_of("--quick"), done) == [("probes", 0), ("position", 0), ("faults", 0)]
    with pytest.raises(SystemExit, match="was made with"):
        suite.plan(args_of(), done)  # the full sizes differ from the quick run's


def test_the_hook_adds_a_unit_where_the_module_exists(monkeypatch):
    monkeypatch.setattr(suite_module, "authoring_module", lambda: object())
    assert JudgeBench().plan(args_of("--quick"), [])[-1] == ("authoring", 0)


def test_quick_fixes_the_sizes():
    with pytest.raises(SystemExit):
        main(["--quick", "--batch", "4"])
    assert "--quick" in JudgeBench().command(args_of("--quick"))
    assert (
        JudgeBench().command(args_of("--pairs", "9")) == "rewardkit bench judge --seeds 3 --pairs 9"
    )


def test_unit_costs():
    assert unit_cost(("speed", "default", 0), QUICK) == 5 * QUICK["batch"] + 2
    assert unit_cost(("speed", "continuous", 1), SIZES) == int(3.5 * SIZES["batch"])
    assert unit_cost(("speed", "continuous", 0), SIZES) == int(3.5 * SIZES["batch"]) + 60
    assert unit_cost(("faults", 0), QUICK) == 2 * QUICK["fault_batch"] + 25


# -- the report from results alone ------------------------------------------------------------


def speed_run(seed, mode="default", per_s=2.0, statuses=None):
    judge = {
        c: {
            "per_s": per_s * k,
            "p50_ms": 100.0,
            "p99_ms": 300.0,
            "ratio": k,
            "statuses": statuses or {"ok": 8},
        }
        for c, k in (("1", 1.0), ("4", 1.5))
    }
    run = {
        "kind": "speed",
        "mode": mode,
        "seed": seed,
        "batch": 8,
        "sequential": {"per_s": per_s, "p50_ms": 90.0, "p99_ms": 200.0},
        "judge": judge,
        "same_verdicts": 1.0,
    }
    if mode == "default":
        run["cache"] = {"speedup": 100.0 + seed, "identical": True, "cache_hits": 8}
    return run


def fault_run(seed, lost=0, by_failure=0, after_scored=12):
    during = {
        "rows": 12,
        "scored": 4,
        "failed": 8 - lost - by_failure,
        "scored_by_failure": by_failure,
        "lost": lost,
    }
    after = {
        "rows": 12,
        "scored": after_scored,
        "failed": 12 - after_scored,
        "scored_by_failure": 0,
        "lost": 0,
    }
    return {
        "kind": "faults",
        "seed": seed,
        "batch": 12,
        "killed_at_s": 1.0,
        "restart_s": 9.0,
        "in_flight_at_kill": True,
        "during": during,
        "during_statuses": {"ok": 4, "error": 8},
        "reasons": {"connection failed": 8},
        "after": after,
        "after_unreadable": 0,
        "passed": lost == 0 and by_failure == 0 and after_scored == 12,
    }


def agreement_report(**extra):
    base = {
        "rows": 16,
        "both": 15,
        "accuracy": 0.6,
        "kappa": 0.1,
        "false_positive_rate": 0.2,
        "false_negative_rate": 0.5,
        "judge_failures": 1,
        "reasons": {"unparseable": 1},
    }
    return {**base, **extra}


def results_of(*runs):
    results = {
        "command": "rewardkit bench judge --quick",
        "seconds": 90.0,
        "settings": {"max_tokens": 8},
        "machine": {"cpus": 2},
        "runs": list(runs),
    }
    results.update(summarize(results))
    return results


QUALITY = [
    {
        "kind": "agreement",
        "rows": 16,
        "right": 5,
        "majority_accuracy": 0.69,
        "text": agreement_report(auc=0.4),
        "systemone": agreement_report(auc=0.3, median_p_yes=0.2),
        "math_verifier": agreement_report(),
        "behind_math_verifier": agreement_report(reached_judge=3),
        "behind_corpus_rule": agreement_report(
            reached_judge=4, unclear_rows=4, judge_pass_share=0.25
        ),
    },
    {
        "kind": "probes",
        "questions": 1,
        "reports": {
            "ReferenceJudge": {
                "fpr": {"master_key ':'": 1.0, "question_copy": None},
                "failures": {"question_copy": 1},
                "max_fpr": 1.0,
            },
            "ReferenceJudge, final answer only": {
                "fpr": {"master_key ':'": 0.0, "question_copy": 0.0},
                "failures": {},
                "max_fpr": 0.0,
            },
        },
    },
    {
        "kind": "position",
        "pairs": 6,
        "prompts": {
            "p": {
                "pairs": 6,
                "judged": 1,
                "failures": 5,
                "first_position": 1.0,
                "ties": 0.0,
                "position_decided": 1.0,
                "accuracy_one_order": 0.5,
                "accuracy_swapped": 0.0,
                "mean_win_rate": 0.5,
                "reasons": {"unparseable: names no winner": 10},
            }
        },
    },
]


def test_claims_and_medians_follow_the_runs():
    results = results_of(
        speed_run(0),
        speed_run(1, per_s=4.0),
        speed_run(0, "continuous"),
        fault_run(0),
        fault_run(1),
        *QUALITY,
    )
    default = results["speed"]["default"]
    assert default["arms"]["sequential"]["per_s"] == 3.0  # median of 2 and 4
    assert default["arms"]["judge x4"]["ratio"] == 1.5 and default["cache_speedup"] == 100.5
    assert "cache_speedup" in results["speed"]["continuous"]
    assert all(c["met"] for c in results["claims"].values()) and results["lost"] == 0
    broken = results_of(fault_run(0, lost=1), fault_run(1, by_failure=1, after_scored=11))
    met = {name: c["met"] for name, c in broken["claims"].items()}
    assert not any(met.values()) and broken["lost"] == 1 and broken["scored_by_failure"] == 1


def test_the_report_labels_its_data_and_skips_the_missing_hook():
    results = results_of(speed_run(0), fault_run(0), *QUALITY)
    text = render(results)
    for section in (
        "## Claims",
        "## Throughput and latency",
        "## Faults",
        "## Agreement",
        "## Master keys",
        "## Position bias",
    ):
        assert section in text
    assert text.count("Data: ") == 5 and "**met**" in text and "**missed**" not in text
    assert "n/a / 1" in text  # a probe whose only sample failed: no rate, one failure
    assert "same verdict by every judge arm (temperature 0): 100.0%" in text
    assert "LLM-written rewards" not in text
    hooked = results_of(*QUALITY, {"kind": "authoring", "score": 0.5})
    assert "## LLM-written rewards" in render(hooked) and '"score": 0.5' in render(hooked)
    assert "custom section" in render(hooked, lambda record: "custom section")


def test_rerender_writes_the_report_from_results_json(tmp_path, monkeypatch):
    monkeypatch.setattr(suite_module, "authoring_module", lambda: None)
    results = results_of(speed_run(0), fault_run(0), *QUALITY)
    (tmp_path / "results.json").write_text(json.dumps(results))
    assert main(["--rerender", str(tmp_path)]) == 0
    assert "## Position bias" in (tmp_path / "report.md").read_text()
