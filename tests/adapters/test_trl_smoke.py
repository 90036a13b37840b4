"""A few real TRL GRPOTrainer steps on CPU with rewardkit rewards (no downloads).

The run with split_parts, an async reward and a group term is
examples/integrations/trl_grpo.py, run by tests/test_examples.py.
"""

import pytest

pytest.importorskip("trl")

from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer

from rewardkit.adapters.trl import AsyncTRLReward, TRLReward
from rewardkit.core import weighted_sum
from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
from rewardkit.verify import LengthLinear, MathVerifier


@pytest.mark.slow
def test_grpo_trainer_logs_rewardkit_rewards(tmp_path):
    tokenizer = build_char_tokenizer("0123456789+=<>/abcdefghijklmnopqrstuvwxyz \\{}")
    model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=32, n_head=2, n_positions=64)
    prompts = [f"{a}+{b}=" for a in range(4) for b in range(4)]
    dataset = Dataset.from_dict(
        {"prompt": prompts, "answer": [str(sum(map(int, p[:-1].split("+")))) for p in prompts]}
    )
    correct = MathVerifier(timeout=5.0, name="correct")
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
