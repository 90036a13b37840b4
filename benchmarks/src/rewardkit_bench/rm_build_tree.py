"""Tree-structured preference pairs in ``rewardkit bench rm-lab`` (the topology paper's claim).

Qiu et al. 2024 ("Reward Generalization in RLHF: A Topological Perspective",
arXiv:2402.10184) collect preferences over a tree of responses that share prefixes instead
of independent responses, and report a 65 % win rate of the resulting policy over the chain
baseline. Here, per seed, on the char-level lab (``chain_sum``), from the warm start:

- **tree**: each of 2,000 training problems gets 2 sampled roots, each cut after half of
  its steps (at least one step is rewritten), and 4 continuations of each cut prefix
  (:func:`rewardkit.models.sample_tree`); pairs are siblings of one prefix that the gold
  labels differently (:func:`rewardkit.models.tree_pairs`);
- **chain**: 8 independent samples of each of the same problems; pairs are two of one
  problem labelled differently (:func:`rewardkit.models.chain_pairs`);

both cut to the same number of pairs (the smaller set's, at most 4,000). A tiny BT RM (the
rm-overoptimization shape, 3 epochs) that reads the reference answer, as Cooper's does
(``prompt | reference ; completion``: without it a tiny RM cannot add up ``chain_sum``'s
numbers and both sat at chance, 0.50-0.54, in the first run), is fitted on each; its
paired accuracy on held-out independent pairs is measured, then GRPO trains the warm start
against each RM (300 steps, as the loop's designs). The win rate is the paper's comparison
with the gold as judge: among held-out problems where the two policies' greedy answers
differ in correctness, the share the tree policy gets right.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["TreeSpec", "run_tree"]

PROMPTS, MAX_PAIRS, EPOCHS = 2000, 4000, 3.0


@dataclass(frozen=True)
class TreeSpec:
    """One seed's tree-against-chain comparison."""

    seed: int
    steps: int
    prompts: int = PROMPTS


def _pairs(model: Any, tokenizer: Any, rows: list[dict[str, Any]], seed: int) -> dict[str, Any]:
    """Tree and chain pairs of ``rows``, gold-labelled, cut to one size."""
    import torch

    from rewardkit.models import TreeShape, chain_pairs, sample_tree, tree_pairs
    from rewardkit.steer.sampling import sample_completions
    from rewardkit_bench.rm_build_loop import TASK
    from rewardkit_bench.rm_lab import completion_budget, gold_term

    budget, gold = completion_budget(TASK), gold_term(TASK)
    by_prompt = {r["prompt"]: r for r in rows}
    torch.manual_seed(4000 + seed)

    def sample(texts: Any, n: int) -> list[str]:
        return sample_completions(model, tokenizer, list(texts), n, budget).texts

    trees = sample_tree([r["prompt"] for r in rows], sample, TreeShape(2, 4, 0.5, ","))
    chains = sample([r["prompt"] for r in rows], 8)
    texts = [(leaf.prompt, leaf.completion) for tree in trees for leaf in tree]
    texts += [(r["prompt"], chains[i * 8 + k]) for i, r in enumerate(rows) for k in range(8)]
    columns = {key: [by_prompt[p][key] for p, _ in texts] for key in rows[0]}
    verdict = gold(columns | {"completion": [c for _, c in texts]}).total
    # a NaN verdict (not applicable) labels nothing: tree_pairs and chain_pairs skip it
    label = {key: float(v) for key, v in zip(texts, verdict, strict=True)}
    tree = tree_pairs(trees, lambda leaf: label[(leaf.prompt, leaf.completion)], seed=seed)
    chain = chain_pairs(
        [r["prompt"] for r in rows], [chains[i * 8 : (i + 1) * 8] for i in range(len(rows))],
        lambda prompt, text: label[(prompt, text)], seed=seed,
    )  # fmt: skip
    size = min(len(tree), len(chain), MAX_PAIRS)
    rng = np.random.default_rng(seed)
    return {
        "tree": [tree[i] for i in rng.permutation(len(tree))[:size]],
        "chain": [chain[i] for i in rng.permutation(len(chain))[:size]],
        "available": {"tree": len(tree), "chain": len(chain)},
        "shared_prefix_chars": float(np.mean([len(p["shared_prefix"]) for p in tree])),
    }


def _greedy_right(model: Any, tokenizer: Any, rows: list[dict[str, Any]]) -> np.ndarray:
    from rewardkit.train.grpo import evaluate_greedy
    from rewardkit_bench.rm_build_loop import TASK
    from rewardkit_bench.rm_lab import completion_budget, gold_term, rows_batch

    found = evaluate_greedy(model, tokenizer, rows, gold_term(TASK), completion_budget(TASK))
    verdict = gold_term(TASK)(rows_batch(rows, list(found.completions), 1)).total
    return np.nan_to_num(verdict) == 1.0


def run_tree(spec: TreeSpec) -> dict[str, Any]:
    """Tree and chain pairs → two RMs → two GRPO policies → the gold's win rate."""
    import torch

    from rewardkit.models import FinalNumberCorruption, PreferenceRewardModel, RewardModelTraining
    from rewardkit.train.grpo import GRPOConfig, GRPOTrainer
    from rewardkit_bench.grpo_lab import load_policy
    from rewardkit_bench.rm_build_cooper import MARKS, _frozen_class, _with_reference
    from rewardkit_bench.rm_build_loop import TASK
    from rewardkit_bench.rm_lab import RM_SHAPE, LabSettings, gold_term, sampled_pairs
    from rewardkit_bench.tasks.arithmetic import task_alphabet, task_problems

    torch.set_num_threads(1)
    start = time.monotonic()
    model, tokenizer = load_policy(None, TASK)
    rows = task_problems(TASK, spec.prompts, seed=5000 + spec.seed)
    found = _pairs(model, tokenizer, rows, spec.seed)
    held_out = sampled_pairs(LabSettings(task=TASK, pair_prompts=1), spec.seed, model, tokenizer)
    test_rows = task_problems(TASK, 300, seed=99_999)
    result: dict[str, Any] = {"kind": "tree", "seed": spec.seed, "steps": spec.steps,
                              "pairs": len(found["tree"]), "available": found["available"],
                              "shared_prefix_chars": found["shared_prefix_chars"]}  # fmt: skip
    right = {}
    answers = {r["prompt"]: r["answer"] for r in rows}
    held_answers = {
        r["prompt"]: r["answer"] for r in task_problems(TASK, 300, seed=2000 + spec.seed)
    }
    held = _with_reference(held_out["held_out"], held_answers)
    for kind in ("tree", "chain"):
        pairs = [{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in found[kind]]
        pairs = _with_reference(pairs, answers)
        alphabet = task_alphabet(TASK) + "".join(MARKS)
        rm = PreferenceRewardModel.tiny(alphabet, seed=spec.seed, **RM_SHAPE)
        rm.fit(pairs, RewardModelTraining(epochs=EPOCHS, seed=spec.seed))
        policy, tok = load_policy(None, TASK)
        config = GRPOConfig(steps=spec.steps, prompts_per_step=8, group_size=8,
                            max_new_tokens=20, learning_rate=2e-4, seed=spec.seed)  # fmt: skip
        train_rows = task_problems(TASK, 2000, seed=spec.seed + 17)
        term = _frozen_class()(rm, gold_term(TASK), FinalNumberCorruption(), markers=MARKS,
                               name="rm")  # fmt: skip
        GRPOTrainer(policy, tok, term, train_rows, config, accuracy=gold_term(TASK)).train()
        right[kind] = _greedy_right(policy, tok, test_rows)
        result[kind] = {"rm_held_out": rm.pair_accuracy(held),
                        "accuracy": float(right[kind].mean())}  # fmt: skip
    differ = right["tree"] != right["chain"]
    result["disagreements"] = int(differ.sum())
    result["win_rate"] = float(right["tree"][differ].mean()) if differ.any() else float("nan")
    result["seconds"] = time.monotonic() - start
    return result
