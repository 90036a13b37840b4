"""steer-real: the settled-answer rule, the oracle check as a potential, Math-Shepherd labels
against hand counts, every method on a tiny model, and the claim's arithmetic from results."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import reasoning_gym

from rewardkit.core.output import Status
from rewardkit.models import FrozenHeadProcessRewardModel
from rewardkit.models.frozen_head import BradleyTerryHead
from rewardkit_bench.smollm2_corpus import TASKS
from rewardkit_bench.steer_real_data import (
    Problem,
    StatedAnswerCheck,
    gold_label,
    settled,
    shepherd_labels,
)
from rewardkit_bench.steer_real_report import SAME_PRM, SMC_PRM, render, summarize


def problem(index=0, task="chain_sum"):
    dataset = reasoning_gym.create_dataset(task, seed=0, size=10, **TASKS[task])
    entry = dataset[index]
    return Problem(task, entry["question"], entry["question"] + " ", entry, dataset)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The answer is 7. So", True),
        ("The answer is 7.", False),  # could still become 7.5
        ("3 + 4 = 7 and", True),
        ("The answer is 7", False),  # could still become 71
        ("7", False),  # a bare number can grow or gain words
        ("I think the", False),
        ("", False),
    ],
)
def test_an_answer_is_settled_only_when_no_continuation_can_change_it(text, expected):
    assert settled(text) is expected


def test_gold_and_the_oracle_check_score_the_first_stated_answer():
    p = problem()
    right, wrong = str(p.entry["answer"]), str(int(p.entry["answer"]) + 1)
    assert gold_label(p, f"The answer is {right}.") == 1.0
    assert gold_label(p, f"The answer is {wrong}. Or {right}.") == 0.0
    assert gold_label(p, "No idea at all.") == 0.0
    check = StatedAnswerCheck({(p.task, p.question): p})
    texts = [
        f"The answer is {right}. ",
        f"= {wrong} so",
        f"The answer is {right}",
        "Hmm",
        f"The answer is {right}",
    ]
    out = check(
        {
            "completion": texts,
            "task": [p.task] * 5,
            "question": [p.question] * 5,
            "partial": [True, True, True, True, False],
        }
    )
    assert out.total[:2].tolist() == [1.0, 0.0]
    assert out.status[2] != Status.OK and out.status[3] != Status.OK  # not settled: not judged
    assert out.total[4] == 1.0  # complete: judged as it is


def test_shepherd_labels_are_rollout_shares_and_settled_prefixes_need_none(monkeypatch):
    p = problem()
    right, wrong = str(p.entry["answer"]), str(int(p.entry["answer"]) + 1)
    prefixes = {"a": ["Well, ", "Well, the answer is " + right + ". So"], "b": ["Hmm"]}
    prm = SimpleNamespace(
        step_count=lambda text: len(prefixes[text]) + 1, step_prefixes=lambda text: prefixes[text]
    )
    calls = []

    def fake_sample(model, tokenizer, texts, k, max_new_tokens, seed=None):
        calls.append((list(texts), k, max_new_tokens))
        endings = [f"the answer is {right}.", f"the answer is {wrong}.", "no.", "x"]
        return SimpleNamespace(texts=[endings[j % 4] for _ in texts for j in range(k)])

    monkeypatch.setattr("rewardkit.lm.sample_completions", fake_sample)
    key = (p.task, p.question)
    rows = [
        {
            "task": p.task,
            "question": p.question,
            "completion": "a",
            "label": 1,
            "sample": 0,
            "sampling_seed": 0,
        },
        {
            "task": p.task,
            "question": p.question,
            "completion": "b",
            "label": 0,
            "sample": 1,
            "sampling_seed": 0,
        },
        {
            "task": p.task,
            "question": p.question,
            "completion": "a",
            "label": 0,
            "sample": 2,
            "sampling_seed": 0,
        },  # not among the first two samples: no rollouts
    ]
    labels = shepherd_labels(None, None, prm, rows, {key: p}, rollouts=4)
    assert labels[0] == [0.25, 1.0, 1.0]  # 1 of 4 endings right; settled; its own label
    assert labels[1] == [0.25, 0.0]
    assert np.isnan(labels[2][:2]).all() and labels[2][2] == 0.0
    # one sampling call per step index, every unsettled prefix of that step in it
    assert [(len(texts), k, budget) for texts, k, budget in calls] == [(2, 4, 48)]
    assert calls[0][0] == [p.prompt + "Well, ", p.prompt + "Hmm"]


def test_every_method_runs_on_a_tiny_model_and_counts_its_tokens():
    from rewardkit_bench.steer_real_runs import steer_seed

    # the tiny GPT-2 reads 128 positions: a short prompt leaves room for 64 new tokens
    problems = [replace(p, prompt=p.question[-10:]) for p in (problem(0), problem(1))]
    alphabet = "".join(sorted({c for p in problems for c in p.prompt} | set("0123456789 .=")))
    prm = FrozenHeadProcessRewardModel.tiny(alphabet, step_tokens=4, seed=0)
    features, _ = prm.features([p.prompt for p in problems], ["1 = 2", "The 3"])
    prm.fit_features(features, [np.resize([1.0, 0.0], len(f)) for f in features], 1.0)
    scorers = SimpleNamespace(prm=prm, bt_head=BradleyTerryHead.untrained(features[0].shape[1]))
    record = steer_seed(
        prm.model,
        prm.tokenizer,
        problems,
        scorers,
        seed=0,
        samples=4,
        ns=(1, 2, 4),
        particles=(2,),
        lam=10.0,
    )
    gold = record["best_of_n"]["gold"]
    assert set(gold) >= {"BT head", SAME_PRM, "PRM (weakest step)"}
    assert all(len(gold[name]["4"]) == 2 for name in gold)
    methods = {m["method"]: m for m in record["methods"]}
    assert set(methods) == {SMC_PRM, "SMC, oracle check potential", "value-guided, PRM value"}
    for m in methods.values():
        assert len(m["gold"]) == 2 and set(m["gold"]) <= {0.0, 1.0}
        assert 0 < m["tokens"] <= 2 * 64  # K = 2 particles of at most 64 tokens
    assert record["best_of_n"]["mean_tokens"] <= 64


def steer_run(seed, smc_gold, bon_gold, tokens=100.0):
    n = len(smc_gold)
    curve = {str(k): list(bon_gold) for k in (1, 2, 4, 8)}
    return {
        "kind": "steer",
        "seed": seed,
        "problems": [["t", str(i)] for i in range(n)],
        "fit": {
            "labelled_steps": 10,
            "prm_l2": 1.0,
            "prm_validation_loss": 0.5,
            "bt_l2": 1.0,
            "bt_validation_accuracy": 0.6,
        },
        "best_of_n": {
            "gold": {"BT head": curve, SAME_PRM: curve, "PRM (weakest step)": curve},
            "mean_tokens": tokens / 8,
        },
        "methods": [
            {
                "method": SMC_PRM,
                "k": 8,
                "gold": list(smc_gold),
                "tokens": tokens,
                "seconds_per_token": 0.01,
            }
        ],
        "sampling_seconds_per_token": 0.005,
    }


def test_the_claim_pools_paired_differences_over_every_seed():
    runs = [
        steer_run(0, [1, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]),
        steer_run(1, [1, 0, 1, 1], [0.25, 0.5, 0.5, 0.25]),
    ]
    results = {"runs": runs}
    results.update(summarize(results))
    diff = np.array([0.5, 0.5, -0.5, 0.5, 0.75, -0.5, 0.5, 0.75])
    found = results["comparisons"]["8"]
    assert found["difference"] == pytest.approx(diff.mean())
    # both seeds drew the same four questions: each question's two rows form one cluster
    centred = diff - diff.mean()
    by_question = centred[:4] + centred[4:]
    se = np.sqrt(np.sum(by_question**2)) / 8
    assert found["se"] == pytest.approx(se)
    claim = next(c for name, c in results["claims"].items() if name.startswith("SMC"))
    assert claim["met"] is bool(diff.mean() > 2 * se)
    assert "## Claims" in render(results)


def test_the_claim_is_missed_when_smc_spends_more_tokens():
    runs = [steer_run(0, [1, 1, 1, 1], [0, 0, 0, 0])]
    runs[0]["methods"][0]["tokens"] = 200.0  # twice best-of-8's 100 tokens a prompt
    results = {"runs": runs}
    results.update(summarize(results))
    claim = next(c for name, c in results["claims"].items() if name.startswith("SMC"))
    assert claim["met"] is False


def test_held_out_pairs_rank_each_question_s_answers_against_a_loop():
    from rewardkit_bench.steer_real_runs import held_out_pairs

    p = replace(problem(0), prompt="q ")
    alphabet = "q 0123456789.:'LetsolvhisbypcrT"
    prm = FrozenHeadProcessRewardModel.tiny(alphabet, step_tokens=3, seed=0)
    texts = ["1", "22", "3.", "4 4"]
    features, _ = prm.features(["q "] * 4, texts)
    prm.fit_features(features, [np.resize([1.0, 0.0], len(f)) for f in features], 1.0)
    bt = BradleyTerryHead(
        np.ones(features[0].shape[1]), np.zeros(features[0].shape[1]), np.ones(features[0].shape[1])
    )
    rows = [
        {
            "task": p.task,
            "question": p.question,
            "completion": t,
            "label": label,
            "status": "stated",
            "tokens": 2,
        }
        for t, label in zip(texts, [1, 0, 0, None], strict=True)
    ]
    out = held_out_pairs(
        rows,
        {(p.task, p.question): p},
        SimpleNamespace(prm=prm, bt_head=bt),
        [":", "Let's solve this step by step."],
    )
    assert out["rows"] == 3 and out["pairs"] == out["pairs_controlled"] == 2
    last = np.array([prm.head.score(f)[-1] for f in features[:3]])
    expected = np.mean([(last[0] > last[w]) + 0.5 * (last[0] == last[w]) for w in (1, 2)])
    assert out["accuracy"]["PRM (last step)"] == pytest.approx(expected)
    probe, _ = prm.step_scores(["q "], [":"])
    assert out["probe_wins"]["PRM (last step)"][":"] == float(probe[0][-1] > last[0])


def test_resume_reads_back_the_labels_and_refuses_other_options(tmp_path):
    import argparse
    import json

    from rewardkit_bench.run_folder import jsonable
    from rewardkit_bench.steer_real import SteerReal

    suite = SteerReal()
    args = argparse.Namespace(quick=False, seeds=2, prompts=20, rollouts=4, corpus=None)
    labels = {"kind": "labels", "labels": [[float("nan"), 0.5, 1.0]],
              "settings": suite._settings(args)}  # fmt: skip
    stored = json.loads(json.dumps(jsonable(labels)))  # as runs.jsonl keeps it: NaN as null
    assert stored["labels"][0][0] is None
    units = suite.plan(args, [stored, {"kind": "steer", "seed": 0}])
    assert units == [("paired", 0), ("steer", 1)]
    assert np.isnan(suite.loaded["labels"][0][0]) and suite.loaded["labels"][0][1:] == [0.5, 1.0]
    with pytest.raises(SystemExit, match="prompts differ"):
        suite.plan(argparse.Namespace(**{**vars(args), "prompts": 10}), [stored])
    assert suite.check(argparse.Namespace(**{**vars(args), "rollouts": 0})) is not None
