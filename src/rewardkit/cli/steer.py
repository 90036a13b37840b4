"""``rewardkit steer``: reward-guided generation from a spec, a model folder and prompts.

It reads prompts from a JSONL file (one object per line with ``prompt`` and any
columns the reward reads, e.g. ``answer``), generates with best-of-N or SMC
steered by the reward declared in SPEC, or with blockwise value-guided
decoding (``vgd``: the best of ``--particles`` candidate blocks under the
reward, block by block), and writes one JSON line per prompt:
the chosen completion, its score, every sample or particle with its score or
weight, and the tokens generated and reward evaluations spent.

Example:
    $ rewardkit steer reward.toml --model runs/tiny-policy --prompts prompts.jsonl \\
        --method smc --particles 8 --out steered.jsonl
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from rewardkit.core.errors import BatchError, ConfigurationError
from rewardkit.lm.local import load_causal_lm

__all__ = ["add_steer_parser", "run_steer"]


def add_steer_parser(commands: Any) -> None:
    """Add ``rewardkit steer`` to the command line's subparsers."""
    steer = commands.add_parser(
        "steer",
        help="generate with best-of-N, SMC or value-guided decoding steered by a reward spec",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    steer.add_argument("spec", type=Path, help="reward spec file (.toml, .yaml, .yml, .json)")
    steer.add_argument(
        "--model", type=Path, required=True, help="a local HF causal LM folder, or a .gguf file"
    )
    steer.add_argument("--prompts", type=Path, required=True, help="JSONL with a prompt column")
    steer.add_argument("--method", choices=("bon", "smc", "vgd"), default="smc")
    steer.add_argument("--n", type=int, default=8, help="best-of-N: samples per prompt")
    steer.add_argument(
        "--particles", type=int, default=8, help="SMC: particles; vgd: candidates per block"
    )
    steer.add_argument("--max-new-tokens", type=int, default=32)
    steer.add_argument("--block-size", type=int, default=4, help="SMC: tokens per block")
    steer.add_argument("--delimiter", default=None, help="SMC: a token that ends a block")
    steer.add_argument("--potential", choices=("difference", "max", "sum"), default="difference")
    steer.add_argument("--lam", type=float, default=10.0, help="SMC: λ of exp(λ r)")
    steer.add_argument("--partial", action="store_true", help="SMC: the reward judges prefixes")
    steer.add_argument("--batch-prompts", type=int, default=16, help="prompts per batch")
    steer.add_argument("--seed", type=int, default=0)
    steer.add_argument("--out", type=Path, required=True, help="JSONL to write")


def _load_model(folder: Path) -> tuple[Any, Any]:
    """The causal LM and tokenizer of ``--model`` (a folder or a .gguf file), in eval mode."""
    try:
        return load_causal_lm(folder)
    except ConfigurationError as exc:
        raise ConfigurationError(f"--model {exc}") from exc


def _number(value: float) -> float | None:
    return None if value != value else float(value)  # NaN travels as null


def run_steer(args: argparse.Namespace) -> int:
    """Run ``rewardkit steer``; returns the exit code."""
    from rewardkit.core.batch import read_jsonl, to_records
    from rewardkit.core.progress import progress
    from rewardkit.core.spec import load_spec
    from rewardkit.steer import SMCConfig, TermPotential, best_of_n, smc, value_guided

    if min(args.n, args.particles, args.max_new_tokens, args.batch_prompts) < 1:
        raise ConfigurationError(
            "--n, --particles, --max-new-tokens and --batch-prompts must be >= 1"
        )
    reward = load_spec(args.spec)
    rows = to_records(read_jsonl(args.prompts))
    if any(not isinstance(r.get("prompt"), str) for r in rows):
        raise BatchError(f"every line of {args.prompts} needs a string 'prompt'")
    model, tokenizer = _load_model(args.model)
    potential = TermPotential(reward, partial=args.partial or None)
    config = SMCConfig(
        particles=args.particles, max_new_tokens=args.max_new_tokens, block_size=args.block_size,
        delimiter=args.delimiter, potential=args.potential, lam=args.lam, seed=args.seed,
    )  # fmt: skip
    chunks = [rows[i : i + args.batch_prompts] for i in range(0, len(rows), args.batch_prompts)]
    tokens = evaluations = 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for number, chunk in enumerate(progress(chunks, f"steer ({args.method})", len(chunks))):
            seed = args.seed + number  # each chunk its own draws
            prompts = [r["prompt"] for r in chunk]
            columns = {k: [r.get(k) for r in chunk] for k in chunk[0] if k != "prompt"}
            if args.method == "bon":
                picked = best_of_n(
                    model, tokenizer, prompts, reward, args.n, args.max_new_tokens,
                    columns=columns, seed=seed,
                )  # fmt: skip
                tokens += picked.tokens_generated
                evaluations += picked.reward_evaluations
                for row, chosen, samples, scores in zip(
                    chunk, picked.chosen, picked.samples, picked.scores, strict=True
                ):
                    out.write(json.dumps({
                        **row, "completion": samples[chosen], "score": _number(scores[chosen]),
                        "samples": samples, "scores": [_number(s) for s in scores],
                    }) + "\n")  # fmt: skip
            else:
                result = (
                    value_guided(
                        model, tokenizer, prompts, potential, candidates=args.particles,
                        max_new_tokens=args.max_new_tokens, block_size=args.block_size,
                        delimiter=args.delimiter, seed=seed, columns=columns,
                    )
                    if args.method == "vgd"
                    else smc(model, tokenizer, prompts, potential, replace(config, seed=seed),
                             columns)
                )  # fmt: skip
                tokens += result.tokens_generated
                evaluations += result.potential_evaluations
                for index, row in enumerate(chunk):
                    completion = result.completions[index]
                    pick = result.particles[index].index(completion)
                    out.write(json.dumps({
                        **row, "completion": completion,
                        "score": _number(result.rewards[index][pick]),
                        "particles": result.particles[index],
                        "weights": [float(w) for w in result.weights[index]],
                        "rewards": [_number(r) for r in result.rewards[index]],
                    }) + "\n")  # fmt: skip
    print(
        f"wrote {len(rows)} completions to {args.out} ({args.method}: {tokens} tokens generated, "
        f"{evaluations} reward evaluations)"
    )
    return 0
