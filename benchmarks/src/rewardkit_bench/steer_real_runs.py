"""One seed of ``rewardkit bench steer-real``: best-of-N under every selector, SMC and
value-guided decoding on SmolLM2, each problem's gold kept for paired comparisons."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["held_out_pairs", "steer_seed"]

BUDGET = 64


def _best_of_n(
    problems: Sequence[Any], samples: Any, scorers: Any, k: int, ns: Sequence[int], seed: int
) -> dict[str, Any]:
    """Per selector and n, each problem's expected gold of best-of-n among its k samples."""
    from rewardkit.audit.overoptimization import best_of_n_mean
    from rewardkit_bench.real_rm_bon import self_consistency
    from rewardkit_bench.smollm2_corpus import stated_answer
    from rewardkit_bench.steer_real_data import gold_label

    owners = [problem for problem in problems for _ in range(k)]
    texts = samples.texts
    gold = np.array([gold_label(p, t) for p, t in zip(owners, texts, strict=True)])
    features, _ = scorers.prm.features([p.prompt for p in owners], texts)
    steps = [scorers.prm.head.score(f) for f in features]
    selectors = {
        "gold (pass@N, the ceiling)": gold,
        "BT head": scorers.bt_head.score(np.stack([f[-1] for f in features])),
        "PRM (last step)": np.array([s[-1] for s in steps]),
        "PRM (weakest step)": np.array([s.min() for s in steps]),
    }
    curves = {
        name: {
            str(n): best_of_n_mean(values.reshape(-1, k), gold.reshape(-1, k), n).tolist()
            for n in ns
        }
        for name, values in selectors.items()
    }
    read = [stated_answer(t) for t in texts]
    answers = [answer if status == "stated" else None for status, answer in read]
    rng = np.random.default_rng(seed)
    curves["self-consistency (majority answer)"] = {
        str(n): [
            self_consistency(answers[i * k : (i + 1) * k], list(gold[i * k : (i + 1) * k]), n, rng)
            for i in range(len(problems))
        ]
        for n in ns
    }
    return {
        "statuses": dict(Counter(status for status, _ in read)),
        "gold": curves,
        "mean_tokens": float(np.mean(samples.lengths)),
        "stated_share": float(np.mean([a is not None for a in answers])),
    }


def steer_seed(
    model: Any,
    tokenizer: Any,
    problems: Sequence[Any],
    scorers: Any,
    seed: int,
    samples: int,
    ns: Sequence[int],
    particles: Sequence[int],
    lam: float,
) -> dict[str, Any]:
    """Every method on ``problems`` (see :mod:`rewardkit_bench.steer_real`)."""
    from rewardkit import lm
    from rewardkit.models import ProcessRewardTerm
    from rewardkit.steer import smc, value_guided
    from rewardkit_bench.smollm2_corpus import stated_answer
    from rewardkit_bench.steer_real_data import STEP_TOKENS, StatedAnswerCheck, gold_label

    begin = time.monotonic()
    prompts = [p.prompt for p in problems]
    columns = {"task": [p.task for p in problems], "question": [p.question for p in problems]}
    start = time.monotonic()
    pool = lm.sample_completions(
        model, tokenizer, prompts, k=samples, max_new_tokens=BUDGET, seed=9000 + seed
    )
    sampling_seconds = time.monotonic() - start
    sampling_rate = sampling_seconds / float(np.sum(pool.lengths))
    bon = _best_of_n(problems, pool, scorers, samples, ns, seed)
    prm = ProcessRewardTerm(model=scorers.prm, aggregate="last", name="prm")
    check = StatedAnswerCheck({(p.task, p.question): p for p in problems})
    methods = []
    for k in particles:
        runs = {
            "SMC, PRM potential": lambda k=k: smc(
                model, tokenizer, prompts, prm, _config(k, seed, lam), columns
            ),
            "SMC, oracle check potential": lambda k=k: smc(
                model, tokenizer, prompts, check, _config(k, seed, lam), columns
            ),
            "value-guided, PRM value": lambda k=k: value_guided(
                model,
                tokenizer,
                prompts,
                prm,
                candidates=k,
                max_new_tokens=BUDGET,
                block_size=STEP_TOKENS,
                seed=seed * 100 + k,
                columns=columns,
            ),
        }
        for name, run in runs.items():
            start = time.monotonic()
            result = run()
            seconds = time.monotonic() - start
            methods.append(
                {
                    "method": name,
                    "k": k,
                    "gold": [
                        gold_label(p, t) for p, t in zip(problems, result.completions, strict=True)
                    ],
                    "tokens": result.tokens_generated / len(problems),
                    "seconds": seconds,
                    "seconds_per_token": seconds / max(result.tokens_generated, 1),
                    "missing_rewards": result.missing_rewards,
                    # what each returned text states: a missing answer is counted, not only scored 0
                    "statuses": dict(Counter(stated_answer(t)[0] for t in result.completions)),
                    "reorders": result.reorders,
                }
            )
    return {
        "problems": [[p.task, p.question] for p in problems],
        "best_of_n": bon,
        "methods": methods,
        "sampling_seconds_per_token": sampling_rate,
        "sampling_tokens": float(np.sum(pool.lengths) / len(problems)),
        "seconds": time.monotonic() - begin,
    }


def _config(k: int, seed: int, lam: float) -> Any:
    from rewardkit.steer import SMCConfig
    from rewardkit_bench.steer_real_data import STEP_TOKENS

    return SMCConfig(
        particles=k,
        max_new_tokens=BUDGET,
        block_size=STEP_TOKENS,
        potential="difference",
        lam=lam,
        seed=seed * 100 + k,
    )


def held_out_pairs(
    rows: Sequence[dict[str, Any]], problems: Any, scorers: Any, probes: Sequence[str]
) -> dict[str, Any]:
    """Paired accuracy of the BT head and the PRM on the held-out half's corpus answers (all
    pairs, and style controlled as real-rm controls it), and the share of held-out questions
    with a right answer whose probe completion outscores the mean of those right answers."""
    from collections import defaultdict

    from rewardkit_bench.real_rm import paired_accuracy, pairs_of

    labelled = [r for r in rows if r["label"] is not None]
    prompts = [problems[(r["task"], r["question"])].prompt for r in labelled]
    features, _ = scorers.prm.features(prompts, [r["completion"] for r in labelled])
    keys = sorted({(r["task"], r["question"]) for r in labelled})
    probe_features, _ = scorers.prm.features(
        [problems[key].prompt for key in keys for _ in probes], [p for _ in keys for p in probes]
    )

    def selectors(found: list[np.ndarray]) -> dict[str, np.ndarray]:
        steps = [scorers.prm.head.score(f) for f in found]
        return {
            "BT head": scorers.bt_head.score(np.stack([f[-1] for f in found])),
            "PRM (last step)": np.array([s[-1] for s in steps]),
            "PRM (weakest step)": np.array([s.min() for s in steps]),
        }

    scores, probe_scores = selectors(features), selectors(probe_features)
    tests = {controlled: pairs_of(labelled, controlled) for controlled in (False, True)}
    right: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, r in enumerate(labelled):
        if r["label"] == 1:
            right[(r["task"], r["question"])].append(i)
    wins: dict[str, dict[str, float]] = {}
    for name, values in scores.items():
        wins[name] = {}
        for p, probe in enumerate(probes):
            beaten = [
                probe_scores[name][k * len(probes) + p] > np.mean(values[right[key]])
                for k, key in enumerate(keys)
                if right[key]
            ]
            wins[name][probe] = float(np.mean(beaten)) if beaten else float("nan")
    return {
        "rows": len(labelled),
        "pairs": len(tests[False]),
        "pairs_controlled": len(tests[True]),
        "accuracy": {n: paired_accuracy(v, tests[False]) for n, v in scores.items()},
        "accuracy_controlled": {n: paired_accuracy(v, tests[True]) for n, v in scores.items()},
        "probe_wins": wins,
    }
