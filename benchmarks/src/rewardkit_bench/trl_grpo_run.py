"""One TRL ``GRPOTrainer`` run on SmolLM2 for ``rewardkit bench trl-grpo``, and the replay
that times two reward sets on the same completions.

The task and trainer settings are those of ``examples/integrations/trl_grpo_smollm2.py``:
reasoning-gym ``chain_sum`` (two one-digit terms) in SmolLM2's chat template, LoRA
(r 16, every linear layer) at 1e-3, 16 completions a step (4 prompts × 4), 32 tokens,
temperature 1. Two reward sets do the same work, weighted 1 / 0.5 / 0.1:

- **rewardkit**: ``split_parts`` of a weighted sum of :class:`~rewardkit.verify.MathVerifier`
  (correct), :class:`~rewardkit.verify.RegexMatch` (format) and
  :class:`~rewardkit.verify.DapoOverlong` (length);
- **trl**: ``trl.rewards.accuracy_reward`` (math-verify), the same format regex as a
  plain function (TRL ships no such reward; this is what a TRL user writes) and
  ``trl.rewards.get_soft_overlong_punishment`` (DAPO's overlong punishment, the same
  equation).

Every reward function is wrapped in a timer that keeps the seconds of each call
(TRL calls each function once a step here) and the first one keeps the step's
prompts and completions, which the replay scores again with both sets.
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["FORMAT", "SETS", "TimedReward", "replay", "reward_set", "train"]

FORMAT = r"-?\d+\s*[-+]\s*-?\d+\s*=\s*-?\d+\b.*"
SYSTEM = "Reply with the equation and its result, like 2 + 2 = 4."
WEIGHTS = [1.0, 0.5, 0.1]
MAX_TOKENS, CACHE_TOKENS = 32, 8
GENERATIONS = 4
SETS = ("rewardkit", "trl")
#: the parts' names in the log, per set: (correct, format, length)
PART_NAMES = {
    "rewardkit": ("correct", "format", "length"),
    "trl": ("accuracy_reward", "format", "soft_overlong_punishment"),
}
#: log_history keys kept (besides rewards/*)
KEPT = ("step", "reward", "reward_std", "completions/mean_length", "loss", "step_time")


class TimedReward:
    """A TRL reward function that keeps its seconds per call (and, if ``keep``, the batches).

    Example:
        >>> timed = TimedReward(lambda completions, **kw: [1.0] * len(completions), "one")
        >>> timed(prompts=["p"], completions=["c"]), timed.__name__, len(timed.seconds)
        ([1.0], 'one', 1)
    """

    def __init__(self, function: Callable[..., list[Any]], name: str, keep: bool = False) -> None:
        self.function = function
        self.__name__ = name
        self.keep = keep
        self.seconds: list[float] = []
        self.batches: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> list[Any]:
        if self.keep:
            keys = ("prompts", "completions", "completion_ids", "solution")
            self.batches.append({key: kwargs[key] for key in keys})
        start = time.perf_counter()
        out = self.function(**kwargs)
        self.seconds.append(time.perf_counter() - start)
        return out


def _format_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """1.0 when the reply is an equation and its result (fullmatch after strip)."""
    pattern = re.compile(FORMAT, re.DOTALL)
    texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
    return [float(pattern.fullmatch(t.strip()) is not None) for t in texts]


def reward_set(which: str) -> list[Callable[..., list[Any]]]:
    """The three reward functions of set ``which`` (``"rewardkit"`` or ``"trl"``), in the
    order (correct, format, length), named as TRL will log them."""
    if which == "rewardkit":
        from rewardkit.adapters.trl import split_parts
        from rewardkit.core import weighted_sum
        from rewardkit.verify import DapoOverlong, MathVerifier, RegexMatch

        parts = [
            MathVerifier(timeout=5.0, name="correct"),
            RegexMatch(FORMAT, name="format"),
            DapoOverlong(MAX_TOKENS, CACHE_TOKENS, name="length"),
        ]
        total = weighted_sum(parts, WEIGHTS)
        funcs, _ = split_parts(total, columns={"answer": "solution"}, num_generations=GENERATIONS)
        return list(funcs)
    if which == "trl":
        from trl.rewards import accuracy_reward, get_soft_overlong_punishment

        overlong = get_soft_overlong_punishment(MAX_TOKENS, CACHE_TOKENS)
        # TimedReward gives each the name TRL logs (PART_NAMES); TRL's own functions
        # are left untouched.
        return [accuracy_reward, _format_reward, overlong]
    raise ValueError(f"unknown reward set {which!r}; expected one of {SETS}")


def _dataset() -> Any:
    import reasoning_gym
    from datasets import Dataset

    problems = reasoning_gym.create_dataset(
        "chain_sum", seed=0, size=64, min_terms=2, max_terms=2, min_digits=1, max_digits=1
    )
    return Dataset.from_list(
        [
            {"prompt": [{"role": "system", "content": SYSTEM},
                        {"role": "user", "content": entry["question"]}],
             "solution": str(entry["answer"])}
            for entry in problems
        ]
    )  # fmt: skip


def train(which: str, seed: int, steps: int) -> dict[str, Any]:
    """One GRPO run with reward set ``which``: its per-step log, the reward seconds of each
    step, samples of the first and last step, and the replay of its completions."""
    import torch
    from peft import LoraConfig
    from trl import GRPOConfig, GRPOTrainer

    from rewardkit import lm

    torch.set_num_threads(2)
    model, tokenizer = lm.load("smollm2-135m-instruct")
    names = PART_NAMES[which]
    timed = [
        TimedReward(f, name, keep=(k == 0))
        for k, (f, name) in enumerate(zip(reward_set(which), names, strict=True))
    ]
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as output_dir:
        config = GRPOConfig(
            output_dir=output_dir, per_device_train_batch_size=16, num_generations=GENERATIONS,
            max_completion_length=MAX_TOKENS, temperature=1.0, max_steps=steps,
            logging_steps=1, learning_rate=1e-3, report_to=[], use_cpu=True, seed=seed,
            data_seed=seed, save_strategy="no", reward_weights=WEIGHTS,
        )  # fmt: skip
        trainer = GRPOTrainer(
            model=model, reward_funcs=timed, args=config, train_dataset=_dataset(),
            processing_class=tokenizer,
            peft_config=LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"),
        )  # fmt: skip
        trainer.train()
    seconds = time.monotonic() - start
    log = [
        {k: v for k, v in entry.items() if k in KEPT or k.startswith("rewards/")}
        for entry in trainer.state.log_history
        if f"rewards/{names[1]}/mean" in entry
    ]
    batches = timed[0].batches
    reward_seconds = [sum(t.seconds[i] for t in timed) for i in range(len(batches))]
    return {
        "log": log,
        "seconds": seconds,
        "reward_seconds": reward_seconds,
        "samples": [_samples(batches[0]), _samples(batches[-1])] if batches else [],
        "replay": replay(batches),
    }


def _samples(batch: dict[str, Any], n: int = 4) -> list[dict[str, str]]:
    return [
        {"question": p[-1]["content"], "completion": c[-1]["content"], "solution": s}
        for p, c, s in list(zip(batch["prompts"], batch["completions"], batch["solution"],
                                strict=True))[:n]
    ]  # fmt: skip


def replay(batches: Sequence[dict[str, Any]], repeats: int = 3) -> dict[str, Any]:
    """Both reward sets on the same recorded batches, called as TRL calls them: per set,
    the median over ``repeats`` of each step's summed seconds, and the correctness scores
    (for the agreement of the two correctness functions)."""
    out: dict[str, Any] = {}
    hooks = {"trainer_state": None, "log_extra": None, "log_metric": lambda *a, **k: None}
    for which in SETS:
        funcs = reward_set(which)
        per_step, correct = [], []
        for batch in batches:
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                scores = [f(**batch, **hooks) for f in funcs]
                times.append(time.perf_counter() - start)
            per_step.append(statistics.median(times))
            correct.extend(scores[0])
        out[which] = {"step_seconds": per_step, "correct": correct}
    return out
