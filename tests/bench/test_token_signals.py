"""token-signals: the claims are computed from the runs, and every design builds."""

import numpy as np
import pytest

from rewardkit.lm.tiny import build_char_tokenizer, build_tiny_gpt2
from rewardkit_bench.tasks.arithmetic import ALPHABET
from rewardkit_bench.token_signals_report import render, summarize
from rewardkit_bench.token_signals_train import DESIGNS, build_reward


def _evaluation(accuracy, pass64, length=12.0):
    passes = {str(k): min(1.0, pass64 * k / 64) for k in (1, 2, 4, 8, 16, 32)}
    return {"accuracy": accuracy, "length": length, "distinct_ratio": 0.4, "answer_nll": 1.0,
            "pass_at_k": {**passes, "64": pass64}}  # fmt: skip


def _run(design, seed, accuracy, pass64, length=12.0):
    return {"kind": "train", "task": "carries", "design": design, "seed": seed,
            "after": _evaluation(accuracy, pass64, length), "sampled_tokens": 1.0,
            "curve": [{"step": 5.0, "entropy": 0.3}]}  # fmt: skip


@pytest.mark.parametrize("reward", sorted({d[1] for d in DESIGNS.values()}))
def test_every_design_reward_builds_and_scores(reward):
    tokenizer = build_char_tokenizer(ALPHABET)
    model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, n_positions=32)
    term, auxiliary = build_reward(reward, model, tokenizer, 20)
    batch = {"prompt": ["1+2="] * 2, "completion": ["3>3", "4>4"], "answer": ["3", "3"],
             "completion_ids": [[1, 2, 3], [1, 2, 3]], "group": [0, 0]}  # fmt: skip
    assert term(batch).total.shape == (2,)
    assert (auxiliary is None) == (reward in ("binary", "grpo_lambda", "pear"))


def test_claims_come_from_the_medians_of_the_runs():
    before = {"kind": "before", "task": "carries", **_evaluation(0.25, 0.93, 9.0)}
    runs = [before]
    for seed, (binary, negative) in enumerate([(0.90, 0.50), (0.80, 0.60), (0.85, 0.55)]):
        runs += [_run("binary", seed, binary, 0.95), _run("negative_only", seed, negative, 0.99)]
        runs += [_run("pear", seed, binary, 0.95, length=10.0)]
    summary = summarize({"runs": runs})
    designs = summary["by_task"]["carries"]["designs"]
    assert designs["binary"]["accuracy"] == pytest.approx(0.85)  # the median of three seeds
    claims = summary["claims"]
    assert claims["carries: negative-only updates"]["met"] is True  # pass@64 0.99 >= 0.95
    assert claims["carries: PEAR"]["met"] is True  # 10 < 0.95 * 12 at equal accuracy
    text = render({**summary, "runs": runs, "command": "x", "steps": 1, "seeds": 3,
                   "tasks": ["carries"], "questions": 1}, [])  # fmt: skip
    assert "| binary | 0.850 | 0.800-0.900 |" in text and "(met)" in text
    assert not np.isnan(designs["pear"]["length"])
