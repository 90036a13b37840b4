"""TRL's GRPOTrainer on a real model, offline: SmolLM2-135M-Instruct with LoRA, on CPU.

The rewards are rewardkit terms split into one TRL reward function per part
(``split_parts``; TRL weights and logs each, and rewardkit adds each part's
status counts): a format reward (the reply opens with the equation and its
result, ``a + b = c``), correctness (rewardkit's math verifier against
reasoning-gym's answer) and DAPO's overlong punishment on the token length.
The prompts are reasoning-gym ``chain_sum`` problems in the model's chat
template; the model is the named offline one (``rewardkit.lm.load``),
adapted with LoRA through peft.

Run: python examples/integrations/trl_grpo_smollm2.py [--steps 30] [--learning-rate 1e-3]
(about 7 s a step on two CPU cores; ``rewardkit bench trl-grpo`` runs it over seeds, and
against TRL's own reward functions).
"""

import argparse
import tempfile

import reasoning_gym
import torch
from datasets import Dataset
from peft import LoraConfig
from trl import GRPOConfig, GRPOTrainer

from rewardkit import lm
from rewardkit.adapters.trl import split_parts
from rewardkit.core import weighted_sum
from rewardkit.verify import DapoOverlong, MathVerifier, RegexMatch

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--steps", type=int, default=30, help="GRPO steps (30)")
parser.add_argument("--learning-rate", type=float, default=1e-3, help="LoRA's (1e-3)")
args = parser.parse_args()
torch.set_num_threads(2)

SYSTEM = "Reply with the equation and its result, like 2 + 2 = 4."
problems = reasoning_gym.create_dataset(
    "chain_sum", seed=0, size=64, min_terms=2, max_terms=2, min_digits=1, max_digits=1
)
dataset = Dataset.from_list(
    [
        {"prompt": [{"role": "system", "content": SYSTEM},
                    {"role": "user", "content": entry["question"]}],
         "solution": str(entry["answer"])}
        for entry in problems
    ]
)  # fmt: skip

correct = MathVerifier(timeout=5.0, name="correct")
form = RegexMatch(r"-?\d+\s*[-+]\s*-?\d+\s*=\s*-?\d+\b.*", name="format")
length = DapoOverlong(max_length=32, cache_length=8, name="length")  # tokens
# num_generations: TRL's groups by position, no need to compare prompts
funcs, weights = split_parts(
    weighted_sum([correct, form, length], [1.0, 0.5, 0.1]),
    columns={"answer": "solution"},
    num_generations=4,
)

model, tokenizer = lm.load("smollm2-135m-instruct")
with tempfile.TemporaryDirectory() as output_dir:
    config = GRPOConfig(
        output_dir=output_dir,
        per_device_train_batch_size=16,
        num_generations=4,
        max_completion_length=32,
        temperature=1.0,
        max_steps=args.steps,
        logging_steps=1,
        learning_rate=args.learning_rate,
        report_to=[],
        use_cpu=True,
        seed=0,
        save_strategy="no",
        reward_weights=weights,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=funcs,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"),
    )
    trainer.train()

steps = [entry for entry in trainer.state.log_history if "rewards/format/mean" in entry]
for entry in (steps[0], steps[-1]):
    print(f"step {entry['step']}: " + ", ".join(
        f"{part} {entry[f'rewards/{part}/mean']:.3f}" for part in ("format", "correct", "length")
    ))  # fmt: skip
print("statuses:", {k: v for k, v in steps[-1].items() if "/status/" in k})
