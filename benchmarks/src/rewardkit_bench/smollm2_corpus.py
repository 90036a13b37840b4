"""A corpus of a real model's answers: SmolLM2-135M-Instruct on reasoning-gym arithmetic.

Each prompt is a reasoning-gym question (``chain_sum`` and ``basic_arithmetic``,
two one-digit terms: a level the model sometimes solves), put through the
model's own chat template (with no system message of ours, so the template's
default SmolLM system prompt); ``k`` completions are
sampled at temperature 1 (plain ancestral sampling, :func:`rewardkit.lm.generate`),
up to ``max_new_tokens`` tokens each.

SmolLM2-135M does not follow reasoning-gym's ``<answer>`` tag format (0 of
64 samples under reasoning-gym's default system prompt did), so the answer a completion
*states* is read by one documented rule, :func:`stated_answer`, and scored by
the reasoning-gym dataset's own ``score_answer``:

- ``status="stated"``: the reply is a bare number N, or N is the first
  ``= N``, ``answer/result ... is N``, ``is N`` or ``equals N`` in the text;
  ``label`` is 1 where reasoning-gym scores N 1.0, else 0;
- ``status="none"``: the completion contains no number at all; ``label`` 0;
- ``status="unclear"``: numbers, but no statement the rule reads; no label.

The labels are therefore rule-read, rg-scored: a measure of agreement with
them is agreement with that rule where the text is clear. ``audit`` in the
corpus README gives how often a reader agreed with the rule on a sample.

Run (about 15 minutes a pass on two cores; ``--resume`` keeps finished prompts); the
published corpus is two passes, the second adding four more samples of each problem::

    python -m rewardkit_bench.smollm2_corpus --out benchmarks/corpora/smollm2-arithmetic.jsonl
    python -m rewardkit_bench.smollm2_corpus --out benchmarks/corpora/smollm2-arithmetic.jsonl \\
        --resume --sampling-seed 1

Example:
    >>> stated_answer("1 + 5 = 6\\n\\nIn this example, 7 apples")
    ('stated', '6')
    >>> stated_answer("The answer to the question '4 - 1' is 2.")
    ('stated', '2')
    >>> stated_answer("What a delightful mystery.")
    ('none', None)
    >>> stated_answer("0.")
    ('stated', '0')
    >>> stated_answer("Take 4 and 1 apart.")
    ('unclear', None)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["TASKS", "generate_corpus", "main", "relabel", "stated_answer"]

#: reasoning-gym dataset → its settings (two one-digit terms)
TASKS: dict[str, dict[str, Any]] = {
    "chain_sum": {"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1},
    "basic_arithmetic": {
        "min_terms": 2,
        "max_terms": 2,
        "min_digits": 1,
        "max_digits": 1,
        "operators": ("+", "-"),
    },
}

_NUMBER = r"(-?\d+(?:\.\d+)?)"
_STATEMENT = re.compile(
    rf"^\s*{_NUMBER}\s*\.?\s*$"  # the whole reply is a number
    rf"|=\s*{_NUMBER}"
    rf"|\b(?:answer|result)\b[^.\n\d]{{0,40}}?\b(?:is|equals)\s*:?\s*{_NUMBER}"
    rf"|\b(?:is|equals)\s+{_NUMBER}",
    re.IGNORECASE,
)


def stated_answer(text: str) -> tuple[str, str | None]:
    """The answer a completion states, by the corpus's rule (see the module docs).

    Args:
        text: the completion.

    Returns:
        ``(status, answer)``: ``("stated", N)``, ``("none", None)`` where the text holds
        no number, or ``("unclear", None)``.
    """
    match = _STATEMENT.search(text)
    if match is not None:
        return "stated", next(group for group in match.groups() if group is not None)
    if re.search(r"\d", text) is None:
        return "none", None
    return "unclear", None


def _problems(task: str, count: int, seed: int) -> list[dict[str, Any]]:
    """The task's problems, each with the reasoning-gym dataset that scores it."""
    import reasoning_gym

    dataset = reasoning_gym.create_dataset(task, seed=seed, size=count, **TASKS[task])
    return [
        {"task": task, "index": i, "entry": entry, "dataset": dataset}
        for i, entry in enumerate(dataset)
    ]


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def generate_corpus(
    out: Path,
    prompts_per_task: int = 200,
    k: int = 4,
    max_new_tokens: int = 64,
    seed: int = 0,
    batch: int = 16,
    resume: bool = False,
    sampling_seed: int | None = None,
) -> int:
    """Append the corpus's rows as JSON lines, a batch of prompts at a time (see the module
    docs). A second pass with another ``sampling_seed`` adds samples of the same problems.

    Returns:
        the number of rows written by this call.
    """
    sampling = seed if sampling_seed is None else sampling_seed
    import torch

    from rewardkit import lm
    from rewardkit.core.progress import progress

    torch.set_num_threads(2)
    done: set[tuple[str, int]] = set()
    if resume and out.exists():
        done = {
            (row["task"], row["index"])
            for row in map(json.loads, out.open())
            if row.get("sampling_seed", row.get("seed", 0)) == sampling
        }
    elif out.exists():
        out.unlink()
    model, tokenizer = lm.load("smollm2-135m-instruct")
    problems = [problem for task in TASKS for problem in _problems(task, prompts_per_task, seed)]
    batches = [
        (number, group)
        for number, group in enumerate(_batches(problems, batch))
        if any((problem["task"], problem["index"]) not in done for problem in group)
    ]
    written = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    for number, group in progress(batches, "smollm2 corpus", log_every=30.0):
        chats = [[{"role": "user", "content": p["entry"]["question"]}] for p in group]
        texts = [
            tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
            for chat in chats
        ]
        samples = lm.sample_completions(
            model, tokenizer, texts, k=k, max_new_tokens=max_new_tokens,
            temperature=1.0, seed=sampling * 100_003 + number,
        )  # fmt: skip
        with out.open("a") as handle:
            for i, completion in enumerate(samples.texts):
                row = {**_row(group[i // k], completion, samples, i, k), "sampling_seed": sampling}
                handle.write(json.dumps(row) + "\n")
                written += 1
    return written


def _label(problem: dict[str, Any], completion: str) -> tuple[str, str | None, int | None]:
    """``(status, stated, label)`` of a completion of ``problem`` (see the module docs)."""
    status, answer = stated_answer(completion)
    if status == "stated" and answer is not None:
        score = problem["dataset"].score_answer(answer, problem["entry"])
        return status, answer, int(float(score) == 1.0)
    return status, answer, 0 if status == "none" else None


def _row(problem: dict[str, Any], completion: str, samples: Any, i: int, k: int) -> dict[str, Any]:
    """One corpus line: the problem, the completion, its stated answer and label."""
    entry = problem["entry"]
    status, answer, label = _label(problem, completion)
    return {
        "task": problem["task"],
        "index": problem["index"],
        "sample": i % k,
        "question": entry["question"],
        "gold": str(entry["answer"]),
        "completion": completion,
        "tokens": int(samples.lengths[i]),
        "status": status,
        "stated": answer,
        "label": label,
    }


def relabel(path: Path, prompts_per_task: int = 200, seed: int = 0) -> int:
    """Recompute every row's ``status``, ``stated`` and ``label`` with the current rule.

    Returns:
        the number of rows whose label changed.
    """
    entries = {
        (problem["task"], problem["index"]): problem
        for task in TASKS
        for problem in _problems(task, prompts_per_task, seed)
    }
    rows = [json.loads(line) for line in path.open()]
    changed = 0
    for row in rows:
        status, answer, label = _label(entries[(row["task"], row["index"])], row["completion"])
        changed += label != row["label"]
        row.update(status=status, stated=answer, label=label)
        row.setdefault("sampling_seed", seed)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (``python -m rewardkit_bench.smollm2_corpus --help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the JSON-lines file to write")
    parser.add_argument("--prompts", type=int, default=200, help="prompts per task (200)")
    parser.add_argument("--k", type=int, default=4, help="completions per prompt (4)")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="per completion (64)")
    parser.add_argument("--seed", type=int, default=0, help="problems' and sampling seed (0)")
    parser.add_argument(
        "--sampling-seed", type=int, default=None,
        help="sampling seed (default: --seed); another value adds samples of the same problems",
    )  # fmt: skip
    parser.add_argument("--resume", action="store_true", help="keep the rows already written")
    parser.add_argument(
        "--relabel", action="store_true", help="only recompute the labels of --out's rows"
    )
    args = parser.parse_args(argv)
    start = time.monotonic()
    if args.relabel:
        print(f"{relabel(args.out, args.prompts, args.seed)} labels changed", file=sys.stderr)
        return 0
    rows = generate_corpus(
        args.out, args.prompts, args.k, args.max_new_tokens, args.seed,
        resume=args.resume, sampling_seed=args.sampling_seed,
    )  # fmt: skip
    print(f"{rows} completions written to {args.out} in {time.monotonic() - start:.0f} s",
          file=sys.stderr)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
