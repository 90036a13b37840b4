"""The online implicit PRM: it learns which final step is right, its step rewards add up to
β · log π_φ/π_old, and it runs inside the GRPO trainer with the ``oprl`` estimator."""

import math

import numpy as np
import pytest
import torch

from rewardkit.core import ConfigurationError, RewardOutput, term
from rewardkit.core.errors import ShapeError
from rewardkit.lm.tokens import encode
from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
from rewardkit.train.grpo import GRPOConfig, GRPOTrainer
from rewardkit.train.implicit_prm import ImplicitPRMStepRewards

ALPHABET = "0123456789+=,>"
PROBLEMS = {"1+1=": ("2", "3"), "2+3=": ("5", "4"), "4+4=": ("8", "9")}  # (right, wrong)


@pytest.fixture(autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _tiny():  # type: ignore[no-untyped-def]
    tokenizer = build_char_tokenizer(ALPHABET)
    policy = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=32, n_head=2, n_positions=32, seed=0)
    return tokenizer, policy.eval()


@term(per_sample=True)
def last_step_right(completion: str, answer: str | None) -> float | None:
    """1 when the completion's last step is the answer; not applicable without an answer."""
    return None if answer is None else float(completion.split(",")[-1] == answer)


def _rows(tokenizer, firsts):  # type: ignore[no-untyped-def]
    """Per problem and first step k: "k,right" then "k,wrong", each closed by an EOS."""
    batch: dict[str, list] = {"prompt": [], "completion": [], "answer": [], "completion_ids": []}
    for prompt, (right, wrong) in PROBLEMS.items():
        for k in firsts:
            for last in (right, wrong):
                text = f"{k},{last}"
                batch["prompt"].append(prompt)
                batch["completion"].append(text)
                batch["answer"].append(right)
                batch["completion_ids"].append([*encode(tokenizer, text), tokenizer.eos_token_id])
    return batch


def test_learns_which_final_step_is_right_on_held_out_rows():
    tokenizer, policy = _tiny()
    prm = ImplicitPRMStepRewards(policy, tokenizer, last_step_right, ",", learning_rate=1e-2)
    held_out = _rows(tokenizer, "789")  # first steps never trained on
    before, ends = prm.score(held_out)
    assert all(np.all(r == 0.0) for r in before)  # π_φ starts as the policy
    assert all(e.tolist() == [2, 4] for e in ends)  # "k," then "right" and its EOS
    train = _rows(tokenizer, "012")
    for _ in range(4):
        prm(train)
    assert prm.last_metrics["pairs"] == 3 * 3 * 3  # per problem: 3 right × 3 wrong
    assert prm.last_metrics["dpo_accuracy"] == 1.0
    assert prm.last_metrics["dpo_loss"] < math.log(2)
    after, _ = prm.score(held_out)
    last = np.array([r[-1] for r in after]).reshape(-1, 2)  # (right, wrong) per row pair
    gap = last[:, 0] - last[:, 1]
    assert np.all(gap > 0.1), gap  # β = 0.05: a log-ratio gap above 2 nats on every row (≈ 0.28)
    # the policy was only read
    assert all(p.grad is None for p in policy.parameters())


def test_step_rewards_sum_to_beta_times_the_completion_log_ratio():
    tokenizer, policy = _tiny()
    beta = 0.3
    prm = ImplicitPRMStepRewards(policy, tokenizer, last_step_right, ",", beta, 1e-2)
    batch = _rows(tokenizer, "01")
    rewards, ends = prm(batch)

    def log_likelihood(model, prompt, ids):  # type: ignore[no-untyped-def]
        full = torch.tensor([encode(tokenizer, prompt) + ids])
        with torch.no_grad():
            logits = model(input_ids=full, attention_mask=torch.ones_like(full)).logits
            logits = logits[0, :-1].log_softmax(-1)
        picked = logits[torch.arange(full.shape[1] - 1), full[0, 1:]]
        return float(picked[-len(ids) :].sum())

    for i, (prompt, ids) in enumerate(zip(batch["prompt"], batch["completion_ids"], strict=True)):
        ratio = log_likelihood(prm.prm, prompt, ids) - log_likelihood(policy, prompt, ids)
        assert rewards[i].sum() == pytest.approx(beta * ratio, abs=1e-5)
        assert ends[i].tolist() == [2, 4] and rewards[i].shape == (2,)
    assert prm.last_metrics["step_reward_mean"] == pytest.approx(np.mean(np.concatenate(rewards)))


def test_groups_pairs_and_what_gives_no_pair():
    tokenizer, policy = _tiny()
    prm = ImplicitPRMStepRewards(policy, tokenizer, last_step_right, ",", learning_rate=1e-2)
    texts = ["1,5", "1,4", "1,4", "1,5"]
    batch = {
        "prompt": ["2+3=", "2+3=", "1+1=", "2+3="],  # no group column: runs of one prompt
        "completion": texts,
        "answer": ["5", "5", "2", "5"],
        "completion_ids": [encode(tokenizer, t) for t in texts],
    }
    prm(batch)  # groups {0, 1}, {2}, {3}: one pair
    assert prm.last_metrics["pairs"] == 1
    prm(batch | {"group": np.array([0, 0, 1, 0])})  # rows 0 and 3 right, 1 wrong
    assert prm.last_metrics["pairs"] == 2
    weights = [p.detach().clone() for p in prm.prm.parameters()]
    prm(batch | {"answer": [None, "5", "2", None]})  # NaN outcomes take no part: no pair
    metrics = prm.last_metrics
    assert metrics["pairs"] == 0 and math.isnan(metrics["dpo_loss"])
    assert all(torch.equal(a, b) for a, b in zip(weights, prm.prm.parameters(), strict=True))
    assert prm.calls == 3


@term(per_sample=True)
def has_comma(completion: str) -> float:
    """A label an untrained policy's samples split on, so that its groups give pairs."""
    return float("," in completion)


def test_a_three_step_grpo_run_with_the_oprl_estimator():
    tokenizer, policy = _tiny()
    rows = [{"prompt": "2+3=", "answer": "5"}, {"prompt": "1+1=", "answer": "2"}]
    step_rewards = ImplicitPRMStepRewards(policy, tokenizer, has_comma, ",", learning_rate=1e-2)
    config = GRPOConfig(
        steps=3, prompts_per_step=2, group_size=4, max_new_tokens=5, estimator="oprl",
        estimator_params={"alpha": 1.0}, learning_rate=1e-3, seed=0,
    )  # fmt: skip
    trainer = GRPOTrainer(
        policy, tokenizer, has_comma, rows, config, step_rewards=step_rewards,
        callbacks=[step_rewards.record_metrics],
    )  # fmt: skip
    history = trainer.train()
    assert step_rewards.calls == 3 and len(history) == 3
    assert all(np.isfinite(r["loss"]) for r in history)
    assert all({"prm/pairs", "prm/dpo_loss", "prm/step_reward_mean"} <= set(r) for r in history)
    assert sum(r["prm/pairs"] for r in history) > 0  # the PRM was updated
    assert step_rewards.prm is not policy


def test_refuses_bad_settings_and_input():
    tokenizer, policy = _tiny()

    def make(**changes):  # type: ignore[no-untyped-def]
        args = {"policy": policy, "tokenizer": tokenizer, "verifier": last_step_right}
        return ImplicitPRMStepRewards(**(args | {"separator": ","} | changes))

    for changes, match in [
        ({"separator": ""}, "separator"),
        ({"beta": 0.0}, "beta"),
        ({"beta": float("nan")}, "beta"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"updates_per_step": 0}, "updates_per_step"),
        ({"updates_per_step": True}, "updates_per_step"),
        ({"updates_per_step": 1.5}, "updates_per_step"),
        ({"threshold": float("inf")}, "threshold"),
        ({"verifier": "exact"}, "verifier"),
    ]:
        with pytest.raises(ConfigurationError, match=match):
            make(**changes)
    prm = make()
    ids = [encode(tokenizer, "1,5")]
    good = {"prompt": ["2+3="], "completion": ["1,5"], "answer": ["5"], "completion_ids": ids}
    for batch, match in [
        ({k: v for k, v in good.items() if k != "completion_ids"}, "completion_ids"),
        (good | {"completion": ["1,5", "1,4"]}, "one row each"),
        (good | {"prompt": [""]}, "at least one token"),
        (good | {"group": [0, 1]}, "group"),
    ]:
        with pytest.raises(ShapeError, match=match):
            prm(batch)
    with pytest.raises(ShapeError, match="outcomes for 1 completions"):
        make(verifier=lambda batch: RewardOutput.from_values([1.0, 0.0]))(good)
