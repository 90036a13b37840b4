"""The GRPO trainer: overfits one problem, KL is zero at the reference, estimators plug in."""

import numpy as np
import pytest
import torch

from rewardkit.core import ConfigurationError, RewardTerm
from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
from rewardkit.train.grpo import ESTIMATORS, GRPOConfig, GRPOTrainer, aggregate, kl_k3
from rewardkit_bench.tasks.arithmetic import ALPHABET, ArithmeticAnswer


@pytest.mark.slow
def test_overfits_a_one_problem_dataset():
    torch.set_num_threads(1)
    tokenizer = build_char_tokenizer(ALPHABET)
    model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=32, n_head=2, n_positions=32, seed=0)
    rows = [{"prompt": "2+3=", "answer": "5"}]
    # Reward only ">5": the answer after '>' must be 5.
    reward = ArithmeticAnswer(missing_score=0.0)
    config = GRPOConfig(
        steps=120, prompts_per_step=2, group_size=8, max_new_tokens=3, learning_rate=3e-3, seed=0
    )
    history = GRPOTrainer(model, tokenizer, reward, rows, config, accuracy=reward).train()
    assert history[-1]["accuracy"] == 1.0, [round(h["accuracy"], 2) for h in history[-10:]]
    assert history[0]["accuracy"] < 0.5


def test_kl_is_zero_when_policy_equals_reference():
    logprobs = torch.log_softmax(torch.randn(4, 6), -1)
    assert torch.allclose(kl_k3(logprobs, logprobs), torch.zeros(4, 6))
    assert (kl_k3(logprobs, logprobs + 0.1 * torch.randn(4, 6)) >= 0).all()
    tokenizer = build_char_tokenizer(ALPHABET)
    model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, n_positions=32)
    config = GRPOConfig(
        steps=1, prompts_per_step=2, group_size=2, max_new_tokens=3, learning_rate=0.0, kl_coef=0.1
    )
    trainer = GRPOTrainer(
        model,
        tokenizer,
        ArithmeticAnswer(missing_score=0.0),
        [{"prompt": "1+1=", "answer": "2"}],
        config,
    )
    record = trainer.step(0)  # learning rate 0: the policy stays the reference
    assert abs(record["kl"]) < 1e-6


def test_loss_aggregations_by_hand():
    per_token = torch.tensor([[1.0, 1.0, 1.0, 0.0], [2.0, 0.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    assert aggregate(per_token, mask, "token_mean", 4).item() == pytest.approx(5 / 4)
    assert aggregate(per_token, mask, "sequence_mean", 4).item() == pytest.approx((1 + 2) / 2)
    assert aggregate(per_token, mask, "dr_grpo", 4).item() == pytest.approx(5 / 8)


def test_estimators_share_one_interface():
    rewards = np.array([1.0, 0.0, np.nan, 1.0])
    group = np.array([0, 0, 1, 1])
    sequences = [[1, 2], [1, 3], [4], [5, 6, 7]]
    for name, estimator in ESTIMATORS.items():
        out = estimator(rewards, group, sequences, 0, 10)
        assert [len(v) for v in out.values] == [2, 2, 1, 3], name
        assert np.all(out.values[2] == 0.0), name  # a not-applicable sample gets no credit
    assert ESTIMATORS["prefix_retention"](
        rewards, group, sequences, 0, 10
    ).train_lengths.tolist() == [
        1,
        1,
        1,
        1,
    ]


def test_config_errors_say_how_to_fix():
    with pytest.raises(ConfigurationError, match="group_size"):
        GRPOConfig(group_size=1)
    with pytest.raises(ConfigurationError, match="loss_aggregation"):
        GRPOConfig(loss_aggregation="sum")
    with pytest.raises(ConfigurationError, match="estimator"):
        GRPOConfig(estimator="ppo")


@pytest.mark.slow
def test_lab_run_one_writes_a_curve(tmp_path, monkeypatch):
    from rewardkit_bench.grpo_lab import RunSpec, build_reward, run_one

    monkeypatch.chdir(tmp_path)  # the warm-start cache goes under ./runs
    result = run_one(RunSpec("credit", "tempo", seed=0, steps=3))
    assert len(result["curve"]) == 3 and 0.0 <= result["accuracy_after"] <= 1.0
    assert (tmp_path / "runs" / "grpo-lab-cache").is_dir()
    for design in ("binary", "graded", "tiered", "naive_length", "grpo_lambda"):
        out = build_reward(design)(
            {
                "completion": ["3,5>5", ">7"],
                "answer": ["5", "5"],
                "group": [0, 0],
                "completion_ids": [[1, 2, 3, 4, 5], [1, 2]],
            }
        )
        assert out.total.shape == (2,)


def _tiny_trainer(seed, estimator=None):
    torch.set_num_threads(1)
    tokenizer = build_char_tokenizer(ALPHABET)
    model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, n_positions=32, seed=seed)
    rows = [{"prompt": "1+2=", "answer": "3"}, {"prompt": "2+2=", "answer": "4"}]
    config = GRPOConfig(steps=3, prompts_per_step=2, group_size=4, max_new_tokens=4, seed=seed)
    reward = ArithmeticAnswer(missing_score=0.0)
    return GRPOTrainer(model, tokenizer, reward, rows, config, estimator=estimator)


def test_deterministic_with_a_seed():
    first = _tiny_trainer(3).train()
    second = _tiny_trainer(3).train()
    keys = ("reward", "completion_length", "loss", "entropy")
    assert [[r[k] for k in keys] for r in first] == [[r[k] for k in keys] for r in second]


def test_custom_estimator_is_used():
    calls = []

    def zero(rewards, group, sequences, step, total):
        calls.append(step)
        return ESTIMATORS["grpo"](rewards * 0, group, sequences, step, total)

    history = _tiny_trainer(0, estimator=zero).train()
    assert calls == [0, 1, 2] and all(abs(r["loss"]) < 1e-9 for r in history)


@pytest.mark.slow
def test_lab_runs_unchanged_with_a_saved_pretrained_model(tmp_path):
    from rewardkit_bench.grpo_lab import RunSpec, run_one

    tokenizer = build_char_tokenizer(ALPHABET)
    model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, n_positions=48)
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    result = run_one(RunSpec("credit", "grpo", seed=0, steps=2, model=str(tmp_path / "model")))
    assert len(result["curve"]) == 2


def _trainer_with(config_overrides, reward):
    torch.set_num_threads(1)
    tokenizer = build_char_tokenizer(ALPHABET)
    model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, n_positions=32, seed=0)
    rows = [{"prompt": "1+2=", "answer": "3"}, {"prompt": "2+2=", "answer": "4"}]
    settings = dict(steps=2, prompts_per_step=2, group_size=4, max_new_tokens=6, seed=0)
    config = GRPOConfig(**{**settings, **config_overrides})
    return GRPOTrainer(model, tokenizer, reward, rows, config)


def test_hdpo_reads_the_reward_channels_and_adds_a_channel_loss(monkeypatch):
    from rewardkit.core import constant, weighted_sum
    from rewardkit.verify.length import LengthLinear

    # every sample "correct", so each group has 4 correct completions to compare on length
    reward = weighted_sum([constant(1.0, name="correct"), LengthLinear(6, unit="tokens")])
    trainer = _trainer_with(
        {"estimator": "hdpo", "estimator_params": {"channels": ("correct", "length_linear")}},
        reward,
    )
    seen = []
    real = trainer.estimator

    def spy(*args, **kwargs):
        seen.append(sorted(kwargs["channels"]))
        return real(*args, **kwargs)

    spy.requires = real.requires
    trainer.estimator = spy
    losses = []
    real_loss = trainer._policy_loss
    trainer._policy_loss = lambda *args: losses.append(args[2]) or real_loss(*args)
    history = trainer.train()
    assert seen == [["correct", "length_linear"]] * 2
    assert all(np.isfinite(r["loss"]) for r in history)
    # each step: the accuracy loss, then the efficiency loss as its own clipped loss
    assert len(losses) == 4
    assert all(np.all(v == 0.0) for v in losses[0])  # all correct: no accuracy signal
    assert any(np.any(v != 0.0) for v in losses[1])  # lengths differ among the correct


def test_pppo_samples_continuations_from_prefixes_and_trains_the_prefix_only():
    trainer = _trainer_with(
        {"estimator": "pppo", "estimator_params": {"continuations": 3}},
        ArithmeticAnswer(missing_score=0.0),
    )
    calls = []
    real = trainer._continuation_rewards

    def spy(rows, sequences, group, prefix_lengths, count):
        rewards, sampled = real(rows, sequences, group, prefix_lengths, count)
        calls.append((rewards.shape, count, prefix_lengths.max(), sampled))
        return rewards, sampled

    trainer._continuation_rewards = spy
    masks = []
    real_masks = trainer._masks
    trainer._masks = lambda *args: masks.append(real_masks(*args)) or masks[-1]
    history = trainer.train()
    assert [c[:2] for c in calls] == [((8, 3), 3)] * 2
    # 15 % of at most 6 tokens: one-token prefixes; only they are trained
    assert all(c[2] == 1 for c in calls)
    assert all(mask.sum(1).tolist() == [1.0] * 8 for mask in masks)
    own = history[0]["sampled_tokens"] - calls[0][3]  # the group's own completions
    assert 8 <= own <= 8 * 6


class _HalfMissing(RewardTerm):
    """First prompt: [n/a, n/a, 1, 1]; second prompt: [1, 0, 1, 0]."""

    def __init__(self, name="half_missing"):
        super().__init__(name)

    def _compute(self, batch):
        pattern = {0: [None, None, 1.0, 1.0], 1: [1.0, 0.0, 1.0, 0.0]}
        return [pattern[g][i % 4] for i, g in enumerate(batch["group"])]


def test_not_applicable_rewards_are_logged_as_missing_not_zero():
    record = _trainer_with({}, _HalfMissing()).step(0)
    assert record["frac_reward_not_applicable"] == 0.25
    assert record["reward"] == pytest.approx(4 / 6)  # over the six applicable rewards
    # read as zeros, the first group would be [0, 0, 1, 1] and have signal; it has none
    assert record["frac_reward_zero_std"] == 0.5


@pytest.mark.parametrize(
    ("estimator", "params"),
    [
        ("ppl_weight", {}),
        ("entropy_clip", {}),
        ("rank_shaped", {"stride": 1}),
        ("negative_only", {}),
        ("position_bonus", {}),
    ],
)
def test_signal_estimators_get_what_they_require(estimator, params):
    """The trainer passes each its policy signals, shaped per completion, and trains."""
    from rewardkit.credit.token import make_estimator

    tokenizer = build_char_tokenizer(ALPHABET)
    model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, n_positions=32, seed=0)
    seen: dict = {}
    inner = make_estimator(estimator, **params)

    def spy(rewards, group, sequences, step, total, **extras):
        seen.update(extras)
        seen["lengths"] = [len(s) for s in sequences]
        return inner(rewards, group, sequences, step, total, **extras)

    spy.requires = getattr(inner, "requires", frozenset())  # type: ignore[attr-defined]
    config = GRPOConfig(steps=2, prompts_per_step=2, group_size=4, max_new_tokens=4)
    rows = [{"prompt": "1+1=", "answer": "2"}, {"prompt": "2+2=", "answer": "4"}]
    reward = ArithmeticAnswer(missing_score=0.0)
    history = GRPOTrainer(model, tokenizer, reward, rows, config, estimator=spy).train()
    assert len(history) == 2 and np.isfinite(history[-1]["loss"])
    assert set(seen) - {"lengths"} == set(spy.requires)
    for name in spy.requires:
        assert [len(a) for a in seen[name]] == seen["lengths"]
    if "token_logprobs" in seen:
        assert all((a <= 0).all() for a in seen["token_logprobs"])
    if "hidden_states" in seen:
        assert seen["hidden_states"][0].shape[1] == 16
        assert history[-1]["effective_rank"] >= 0.0  # logged for the rank monitor


def test_a_likelihood_reward_follows_the_policy_it_reads_and_callbacks_run():
    """LikelihoodReward holds the trainer's own model; a callback sees every record."""
    from rewardkit.signals import InformationGain, LikelihoodReward

    tokenizer = build_char_tokenizer(ALPHABET)
    model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, n_positions=32, seed=0)
    reward = LikelihoodReward(model, tokenizer, delimiter=">", append_eos=True)
    rows = [{"prompt": "1+1=", "answer": "2"}]
    batch = {"prompt": ["1+1="], "completion": ["2>"], "answer": ["2"]}
    before = reward(batch).total[0]
    seen = []
    config = GRPOConfig(
        steps=3, prompts_per_step=1, group_size=4, max_new_tokens=4, learning_rate=1e-2
    )
    trainer = GRPOTrainer(
        model, tokenizer, reward, rows, config, callbacks=[lambda t, r: seen.append(r["step"])]
    )
    trainer.train()
    assert seen == [1.0, 2.0, 3.0]
    assert reward(batch).total[0] != before  # the same object: it reads the trained policy
    gain = InformationGain(model, tokenizer, target_column="answer")
    record = GRPOTrainer(model, tokenizer, gain, rows, GRPOConfig(steps=1, group_size=2)).step(0)
    assert record["reward/information_gain/ema_decay"] == 0.999


def test_a_process_estimator_reads_step_rewards_through_the_trainer() -> None:
    """step_rewards= is called with the reward batch; without it the estimator is refused."""
    from rewardkit.credit.process import ProcessEstimator, ProcessStepRewards

    class Steps:  # a PRM stand-in: every step of every completion scores 0.5
        separator = "+"

        def __init__(self) -> None:
            self.calls = 0

        def step_scores(self, prompts, completions):  # type: ignore[no-untyped-def]
            self.calls += 1
            return [np.full(len(c.split("+")) if c else 0, 0.5) for c in completions], None

    tokenizer = build_char_tokenizer(ALPHABET)
    model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=16, n_head=2, n_positions=32, seed=0)
    rows = [{"prompt": "1+1=", "answer": "2"}]
    config = GRPOConfig(steps=2, prompts_per_step=1, group_size=4, max_new_tokens=6)
    estimator = ProcessEstimator(refinement="delta")
    with pytest.raises(ConfigurationError, match="step_rewards"):
        GRPOTrainer(model, tokenizer, ArithmeticAnswer(0.0), rows, config, estimator=estimator)
    prm = Steps()
    trainer = GRPOTrainer(
        model, tokenizer, ArithmeticAnswer(0.0), rows, config, estimator=estimator,
        step_rewards=ProcessStepRewards(prm, tokenizer),
    )  # fmt: skip
    history = trainer.train()
    assert prm.calls == 2 and all(np.isfinite(r["loss"]) for r in history)
