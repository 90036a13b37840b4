"""A few real TRL GRPOTrainer steps on CPU with rewardkit rewards (no downloads)."""

import pytest

pytest.importorskip("trl")

from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer

from rewardkit.adapters.trl import AsyncTRLReward, TRLReward, async_trl_reward, split_parts
from rewardkit.core import weighted_sum
from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
from rewardkit.verify import LengthLinear, MathVerifier, grpo_lambda


@pytest.mark.slow
def test_grpo_trainer_logs_rewardkit_rewards(tmp_path):
    tokenizer = build_char_tokenizer("0123456789+=<>/abcdefghijklmnopqrstuvwxyz \\{}")
    model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=32, n_head=2, n_positions=64)
    prompts = [f"{a}+{b}=" for a in range(4) for b in range(4)]
    dataset = Dataset.from_dict(
        {"prompt": prompts, "answer": [str(sum(map(int, p[:-1].split("+")))) for p in prompts]}
    )
    correct = MathVerifier(extractors=("last_number",), timeout=5.0, name="correct")
    shaped = weighted_sum([correct, LengthLinear(max_length=16)], [1.0, 0.1], name="shaped")
    config = GRPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=6,
        max_steps=2,
        logging_steps=1,
        learning_rate=1e-3,
        report_to=[],
        use_cpu=True,
        seed=0,
        save_strategy="no",
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[TRLReward(shaped), AsyncTRLReward(correct)],
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    trainer.train()
    logged = {key for entry in trainer.state.log_history for key in entry}
    assert "rewards/shaped/mean" in logged
    assert "rewards/correct/mean" in logged
    assert "shaped/length_linear" in logged  # composed parts via TRL's log_metric hook


@pytest.mark.slow
def test_grpo_trainer_with_split_parts_an_async_reward_and_a_group_term(tmp_path):
    """The issue's acceptance run: split_parts, an async reward and a group term, on CPU."""
    tokenizer = build_char_tokenizer("0123456789+=<>/abcdefghijklmnopqrstuvwxyz \\{}")
    model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=32, n_head=2, n_positions=64)
    prompts = [f"{a}+{b}=" for a in range(4) for b in range(4)]
    dataset = Dataset.from_dict(
        {"prompt": prompts, "solution": [str(sum(map(int, p[:-1].split("+")))) for p in prompts]}
    )
    correct = MathVerifier(extractors=("last_number",), timeout=5.0, name="correct")
    length = LengthLinear(max_length=16, name="length")
    funcs, weights = split_parts(
        weighted_sum([correct, length], [1.0, 0.1]), columns={"answer": "solution"}
    )
    lambda_reward = async_trl_reward(
        grpo_lambda(correct, length, threshold=0.5, name="grpo_lambda"),
        columns={"answer": "solution"},
        num_generations=4,
    )
    config = GRPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=6,
        max_steps=2,
        logging_steps=1,
        learning_rate=1e-3,
        report_to=[],
        use_cpu=True,
        seed=0,
        save_strategy="no",
        reward_weights=[*weights, 1.0],
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[*funcs, lambda_reward],
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    trainer.train()
    logged = {key for entry in trainer.state.log_history for key in entry}
    for part in ("correct", "length", "grpo_lambda"):
        assert f"rewards/{part}/mean" in logged, sorted(logged)
        assert f"{part}/status/ok" in logged and f"{part}/status/not_applicable" in logged
