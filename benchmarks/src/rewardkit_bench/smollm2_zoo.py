"""A policy zoo from one model: SmolLM2-135M-Instruct sampled under five "policies" on
new reasoning-gym arithmetic questions, the unlabelled pretraining data of the POLAR-style
reward model (:mod:`rewardkit.models.polar`, ``rewardkit_bench.rm_build_polar``).

The questions are the SmolLM2 corpus's tasks and settings
(:data:`rewardkit_bench.smollm2_corpus.TASKS`: ``chain_sum`` and ``basic_arithmetic``, two
one-digit terms) drawn with another dataset seed (7). One-digit questions repeat across
seeds, so a drawn question is kept only if the corpus (``smollm2-arithmetic.jsonl``) does
not hold it and it is not already kept: the first ``questions`` such questions of each
task, walking the seed-7 dataset in order. Each question is put to the model under each
policy (:data:`POLICIES`):

- ``base``: the corpus's own setting (the chat template's default system prompt,
  temperature 1);
- ``cold`` / ``hot``: the same at temperature 0.5 / 1.4;
- ``terse``: a system prompt asking for the final number only, temperature 1;
- ``steps``: a system prompt asking to work step by step, temperature 1;

``k`` completions each (plain ancestral sampling, :func:`rewardkit.lm.sample_completions`,
up to ``max_new_tokens`` tokens), and every completion is read and labelled by the
corpus's rule (:func:`rewardkit_bench.smollm2_corpus.stated_answer`, reasoning-gym's
``score_answer``). The labels are stored for inspection; pretraining uses only the
policy ids.

Run (about 5 minutes on two idle cores, 25 batches of 32 completions; on a busy machine
pass ``--threads 1``: two torch threads that wait on each other there were ten times
slower; ``--resume`` keeps the finished (policy, batch) rows)::

    python -m rewardkit_bench.smollm2_zoo --out benchmarks/corpora/smollm2-zoo.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rewardkit_bench.smollm2_corpus import TASKS, _label

__all__ = ["POLICIES", "generate_zoo", "main", "zoo_problems"]

#: policy → (system prompt, None: the template's default; sampling temperature)
POLICIES: dict[str, tuple[str | None, float]] = {
    "base": (None, 1.0),
    "cold": (None, 0.5),
    "hot": (None, 1.4),
    "terse": ("Reply with only the final number, nothing else.", 1.0),
    "steps": ("Work through the problem step by step, then state the final answer.", 1.0),
}
#: the reasoning-gym dataset seed of the zoo's questions (the corpus used 0)
ZOO_SEED = 7
#: problems drawn per task before the ones the corpus holds are skipped
_POOL = 400
CORPUS = Path("benchmarks") / "corpora" / "smollm2-arithmetic.jsonl"


def zoo_problems(questions: int, corpus: Path, seed: int = ZOO_SEED) -> list[dict[str, Any]]:
    """The first ``questions`` problems of each task (dataset ``seed``) whose question is
    neither in ``corpus`` nor already taken, each with the dataset that scores it.

    Raises:
        ValueError: a task has fewer than ``questions`` such problems among its first 400.
    """
    import reasoning_gym

    seen = {(row["task"], row["question"]) for row in map(json.loads, corpus.open())}
    problems = []
    for task, settings in TASKS.items():
        dataset = reasoning_gym.create_dataset(task, seed=seed, size=_POOL, **settings)
        taken = 0
        for index, entry in enumerate(dataset):
            if taken == questions:
                break
            if (task, entry["question"]) in seen:
                continue
            seen.add((task, entry["question"]))
            problems.append({"task": task, "index": index, "entry": entry, "dataset": dataset})
            taken += 1
        if taken < questions:
            raise ValueError(
                f"{task}: only {taken} new questions among the first {_POOL} of seed {seed}; "
                "ask for fewer questions or use another seed"
            )
    return problems


def _chat(tokenizer: Any, policy: str, question: str) -> str:
    system, _ = POLICIES[policy]
    chat = [{"role": "user", "content": question}]
    if system is not None:
        chat.insert(0, {"role": "system", "content": system})
    text: str = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    return text


def generate_zoo(
    out: Path, questions: int = 40, k: int = 2, max_new_tokens: int = 64,
    corpus: Path = CORPUS, batch: int = 16, resume: bool = False, seed: int = 0,
    threads: int = 2,
) -> int:  # fmt: skip
    """Append the zoo's rows as JSON lines, one batch of one policy's prompts at a time
    (see the module docs), on ``threads`` torch threads.

    Returns:
        the number of rows written by this call.
    """
    import torch

    from rewardkit import lm
    from rewardkit.core.progress import progress

    torch.set_num_threads(threads)
    done: set[tuple[str, str, int]] = set()
    if resume and out.exists():
        done = {(r["policy"], r["task"], r["index"]) for r in map(json.loads, out.open())}
    elif out.exists():
        out.unlink()
    problems = zoo_problems(questions, corpus)
    model, tokenizer = lm.load("smollm2-135m-instruct")
    work = [
        (p_number, policy, number, problems[start : start + batch])
        for p_number, policy in enumerate(POLICIES)
        for number, start in enumerate(range(0, len(problems), batch))
        if any((policy, p["task"], p["index"]) not in done for p in problems[start : start + batch])
    ]
    written = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    for p_number, policy, number, group in progress(work, "smollm2 zoo", log_every=20.0):
        texts = [_chat(tokenizer, policy, p["entry"]["question"]) for p in group]
        samples = lm.sample_completions(
            model, tokenizer, texts, k=k, max_new_tokens=max_new_tokens,
            temperature=POLICIES[policy][1], seed=seed * 1_000_003 + p_number * 1_009 + number,
        )  # fmt: skip
        with out.open("a") as handle:
            for i, completion in enumerate(samples.texts):
                handle.write(json.dumps(_row(group[i // k], policy, completion, samples, i, k)))
                handle.write("\n")
                written += 1
    return written


def _row(
    problem: dict[str, Any], policy: str, completion: str, samples: Any, i: int, k: int
) -> dict[str, Any]:
    entry = problem["entry"]
    status, answer, label = _label(problem, completion)
    return {
        "task": problem["task"],
        "index": problem["index"],
        "question": entry["question"],
        "gold": str(entry["answer"]),
        "policy": policy,
        "sample": i % k,
        "completion": completion,
        "tokens": int(samples.lengths[i]),
        "status": status,
        "stated": answer,
        "label": label,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (``python -m rewardkit_bench.smollm2_zoo --help``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the JSON-lines file to write")
    parser.add_argument("--questions", type=int, default=40, help="new questions per task (40)")
    parser.add_argument("--k", type=int, default=2, help="completions per policy and question")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="per completion (64)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="questions to avoid")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (0)")
    parser.add_argument("--resume", action="store_true", help="keep the rows already written")
    parser.add_argument(
        "--threads", type=int, default=2,
        help="torch threads (2; 1 on a machine busy with other work, where 2 wait on each other)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    start = time.monotonic()
    rows = generate_zoo(
        args.out, args.questions, args.k, args.max_new_tokens, args.corpus,
        resume=args.resume, seed=args.seed, threads=args.threads,
    )  # fmt: skip
    print(f"{rows} completions written to {args.out} in {time.monotonic() - start:.0f} s",
          file=sys.stderr)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
