"""TRL: a few GRPOTrainer steps with rewardkit rewards, on CPU, with no downloads.

The reward is a weighted sum split into one TRL reward function per part
(TRL weights and logs each), plus an async group term (GRPO-λ's length
penalty, on only in mostly-correct groups). The model is a tiny GPT-2 built
from config with a character tokenizer.

Run: python examples/integrations/trl_grpo.py
"""

import tempfile

from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer

from rewardkit.adapters.trl import async_trl_reward, split_parts
from rewardkit.core import weighted_sum
from rewardkit.models.tiny import build_char_tokenizer, build_tiny_gpt2
from rewardkit.verify import LengthLinear, MathVerifier, grpo_lambda

tokenizer = build_char_tokenizer("0123456789+=<>/abcdefghijklmnopqrstuvwxyz \\{}")
model = build_tiny_gpt2(tokenizer, n_layer=1, n_embd=32, n_head=2, n_positions=64)
prompts = [f"{a}+{b}=" for a in range(4) for b in range(4)]
# TRL's math datasets call the gold answer "solution"; rewardkit reads "answer"
dataset = Dataset.from_dict({"prompt": prompts, "solution": [str(eval(p[:-1])) for p in prompts]})

correct = MathVerifier(timeout=5.0, name="correct")
length = LengthLinear(max_length=16, name="length")
funcs, weights = split_parts(
    weighted_sum([correct, length], [1.0, 0.1]), columns={"answer": "solution"}
)
group_term = async_trl_reward(
    grpo_lambda(correct, length, threshold=0.5, name="grpo_lambda"),
    columns={"answer": "solution"},
    num_generations=4,
)

with tempfile.TemporaryDirectory() as output_dir:
    config = GRPOConfig(
        output_dir=output_dir,
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
        reward_funcs=[*funcs, group_term],
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    trainer.train()

last = trainer.state.log_history[-2]  # the last step's logs (the final entry is the summary)
for key in sorted(last):
    if key.startswith(("rewards/", "correct/", "length/", "grpo_lambda/")):
        print(f"{key:36} {last[key]:.3f}")
