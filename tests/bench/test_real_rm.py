"""real-rm and its corpus: the stated-answer rule, pairs by problem, paired accuracy against
a loop, λ chosen on the training prompts only, the report from results alone, relabelling."""

import json

import numpy as np
import pytest

from rewardkit_bench import real_rm
from rewardkit_bench.real_rm import paired_accuracy, pairs_of
from rewardkit_bench.real_rm_bon import GOLD
from rewardkit_bench.real_rm_report import render
from rewardkit_bench.smollm2_corpus import relabel, stated_answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12 + 7 = 9", ("stated", "9")),
        ("The answer to 4 - 1 is 3.", ("stated", "3")),
        ("The result of the sum equals -4", ("stated", "-4")),
        ("The result of 4 + 3 is 7.", ("stated", "7")),  # not the first operand
        ("  5 \n", ("stated", "5")),
        ("The sum equals 7 apples", ("stated", "7")),
        ("What a delightful mystery.", ("none", None)),
        ("First take 4, then 1.", ("unclear", None)),
    ],
)
def test_the_stated_answer_rule(text, expected):
    assert stated_answer(text) == expected


def row(question, label, status="stated", tokens=10):
    return {"task": "t", "question": question, "label": label, "status": status, "tokens": tokens}


def test_pairs_are_within_a_problem_and_style_control_drops_unlike_pairs():
    rows = [row("a", 1), row("a", 0, tokens=30), row("a", 0, "none"), row("a", None, "unclear"),
            row("b", 1), row("b", 0, tokens=12), row("c", 0)]  # fmt: skip
    assert pairs_of(rows, False) == [(0, 1), (0, 2), (4, 5)]
    assert pairs_of(rows, True) == [(4, 5)]


def test_paired_accuracy_equals_a_loop_with_ties_as_half():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 3, size=20).astype(float)
    pairs = [tuple(p) for p in rng.integers(0, 20, size=(50, 2))]
    expected = np.mean([1.0 if scores[c] > scores[w] else 0.5 if scores[c] == scores[w] else 0.0
                        for c, w in pairs])  # fmt: skip
    assert paired_accuracy(scores, pairs) == pytest.approx(expected)
    assert np.isnan(paired_accuracy(scores, []))


def test_the_penalty_is_chosen_on_the_training_pairs_alone():
    rng = np.random.default_rng(1)
    rows, features = [], []
    for problem in range(40):
        for label in (1, 0, 0, None):  # an unclear row belongs to no pair
            rows.append(row(f"q{problem}", label, "stated" if label is not None else "unclear"))
            features.append(rng.normal(size=6) + (1.5 if label else 0.0) * np.eye(6)[0])
    features = np.array(features)
    train = [pair for pair in pairs_of(rows, False) if int(rows[pair[0]]["question"][1:]) < 30]
    chosen, score = real_rm._chosen_l2(features, train, rows, seed=0)
    assert chosen in real_rm.L2_GRID and 0.5 < score <= 1.0
    # the choice reads only the rows of the training pairs: the others may hold anything
    unused = np.setdiff1d(np.arange(len(rows)), np.array(train).ravel())
    assert len(unused) == 10 * 4 + 30  # ten held-out problems and every unclear row
    polluted = features.copy()
    polluted[unused] = np.nan
    assert real_rm._chosen_l2(polluted, train, rows, seed=0) == (chosen, score)


def test_a_split_never_trains_on_a_held_out_problem(monkeypatch):
    rng = np.random.default_rng(2)
    rows = [row(f"q{p}", label, tokens=int(rng.integers(5, 9)))
            for p in range(30) for label in (1, 0, 0)]  # fmt: skip
    suite = real_rm.RealRM()
    suite.rows = rows
    suite.features = {layer: rng.normal(size=(len(rows), 4)) for layer in real_rm.LAYERS}
    suite.probe_features = {layer: rng.normal(size=(30 * 3, 4)) for layer in real_rm.LAYERS}
    suite.probe_prompts = [("t", f"q{p}") for p in range(30)]
    suite.self_logprob = rng.normal(size=len(rows))
    fitted: list[set[str]] = []
    real_fit = real_rm_head().fit

    def recording(self, chosen, rejected, l2=1e-2):
        fitted.append({tuple(r) for r in np.round(chosen, 9)})
        return real_fit(self, chosen, rejected, l2)

    monkeypatch.setattr(real_rm_head(), "fit", recording)
    run = suite._rm_run(seed=0)
    assert run["train_pairs"] + run["test_pairs"] == 30 * 2
    assert run["chosen"] in run["validation"]
    # every fit (the λ search's and the final one) sees the rows of half the problems only
    question_of = {
        tuple(r): rows[i]["question"]
        for features in suite.features.values()
        for i, r in enumerate(np.round(features, 9))
    }
    seen = {question_of[r] for rows_ in fitted for r in rows_}
    assert fitted and len(seen) == 15


def real_rm_head():
    from rewardkit.models.frozen_head import BradleyTerryHead

    return BradleyTerryHead


def test_the_report_renders_from_results_alone():
    run = {"kind": "rm", "seed": 0, "train_pairs": 10, "test_pairs": 9, "test_pairs_controlled": 4,
           "accuracy": {"BT head, layer 15": 0.8, "shorter is better": 0.4},
           "accuracy_controlled": {"BT head, layer 15": 0.75, "shorter is better": 0.5},
           "probe_wins": {"BT head, layer 15": {":": 0.1}},
           "l2": {"BT head, layer 15": 1.0}}  # fmt: skip
    found = {"agreement": 1.0, "false_positives": 0, "outcomes": {"correct": 5}}
    verify = {"kind": "verify", "labelled": 5, "verifiers": {"rewardkit": found}}
    results = {"command": "rewardkit bench real-rm", "seconds": 60.0, "rows": 12,
               "runs": [verify, run]}  # fmt: skip
    run.update(validation={"BT head, layer 15": 0.6}, chosen="BT head, layer 15")
    curves = {"BT head, layer 15": [0.30, 0.45, 0.40, 0.30], GOLD: [0.3, 0.5, 0.6, 0.7]}
    run["best_of_n"] = {"ns": [1, 2, 4, 8], "problems": 150, "gold": curves}
    results.update(real_rm.RealRM().summarize(results))
    text = render(results, 0.70)
    assert "| BT head, layer 15 | 0.800 | 0.750 |" in text
    assert "| rewardkit | 1.000 | 0 | correct 5 |" in text
    assert "**reproduced** (BT head, layer chosen by CV: 0.750)" in text
    assert f"| {GOLD} | 0.300 | 0.500 | 0.600 | 0.700 |  |  |  |  |" in text  # not fitted
    assert "peak-then-fall of gold: **reproduced** (gold 0.300 → 0.450 → 0.400 → 0.300" in text


def test_relabel_recomputes_labels_with_reasoning_gym(tmp_path):
    from rewardkit_bench.smollm2_corpus import _problems

    problem = _problems("chain_sum", 3, seed=0)[1]
    gold = str(problem["entry"]["answer"])
    rows = [
        {"task": "chain_sum", "index": 1, "completion": f"So it is {gold}.", "label": None},
        {"task": "chain_sum", "index": 1, "completion": f"= {int(gold) + 1}", "label": 1},
        {"task": "chain_sum", "index": 1, "completion": "Nothing to see.", "label": 0},
    ]
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert relabel(path, prompts_per_task=3, seed=0) == 2
    labels = [json.loads(line)["label"] for line in path.open()]
    assert labels == [1, 0, 0]


def test_best_of_n_matches_a_loop_over_every_subset():
    from itertools import combinations

    from rewardkit_bench.real_rm_bon import GOLD, NS, SAMPLES, SELF_CONSISTENCY, bon_curves

    rng = np.random.default_rng(4)
    rows = []
    for p in range(5):
        for s in range(SAMPLES + 2):  # more samples than used: only the first SAMPLES count
            label = int(rng.integers(0, 3)) if s else 1  # 0, 1 or 2 (2 stands for unclear)
            rows.append({"task": "t", "question": f"q{p}", "label": None if label == 2 else label,
                         "stated": None if label == 2 else str(label)})  # fmt: skip
    scores = rng.normal(size=len(rows))
    out = bon_curves(rows, {"rm": scores}, list(range(len(rows))), seed=0)
    assert out["problems"] == 5
    for k, n in enumerate(NS):
        expected = []
        for p in range(5):
            first = [p * (SAMPLES + 2) + s for s in range(SAMPLES)]
            picks = [max(subset, key=lambda i: scores[i]) for subset in combinations(first, n)]
            expected.append(np.mean([rows[i]["label"] == 1 for i in picks]))
            assert out["gold"][GOLD][k] <= 1.0
        assert out["gold"]["rm"][k] == pytest.approx(np.mean(expected))
    # pass@n is the ceiling; with one sample every selector is the mean gold
    assert all(g >= r - 1e-12 for g, r in zip(out["gold"][GOLD], out["gold"]["rm"], strict=True))
    assert out["gold"][SELF_CONSISTENCY][0] == pytest.approx(out["gold"]["rm"][0], abs=0.05)


def test_self_consistency_follows_the_majority_and_ignores_unstated_answers():
    from rewardkit_bench.real_rm_bon import self_consistency

    rng = np.random.default_rng(0)
    # "7" is stated twice, "3" once, two state nothing: all five in the subset → "7"
    assert self_consistency(["7", None, "3", "7", None], [1, 0, 0, 1, 0], 5, rng) == 1.0
    assert self_consistency([None, None], [0.0, 0.0], 2, rng) == 0.0


def test_the_gao_fit_and_the_peak_rule_on_curves_by_hand():
    from rewardkit_bench.real_rm_bon import gao_fit, peak_then_fall

    assert gao_fit([0.3, 0.3, 0.3, 0.3])["alpha"] == pytest.approx(0.0, abs=1e-12)
    assert peak_then_fall([0.30, 0.45, 0.40, 0.30], problems=150)
    assert not peak_then_fall([0.30, 0.32, 0.31, 0.30], problems=150)  # within the noise
