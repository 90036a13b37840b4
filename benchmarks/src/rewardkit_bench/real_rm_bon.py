"""Best-of-n on SmolLM2's own samples, for ``rewardkit bench real-rm``.

Every corpus problem has at least :data:`SAMPLES` sampled answers, so best-of-n
needs no new generation: for each held-out problem, the gold of the sample a
selector ranks first among n of its first :data:`SAMPLES` samples, averaged
exactly over every size-n subset
(:func:`rewardkit.audit.overoptimization.best_of_n_mean`, as
Gao et al. estimate it; between equal scores the later sample wins). Gold is
the corpus label (1 for a correct stated answer; a wrong or unclear one
counts 0). Selectors are the run's scorers,
the gold itself (pass@n, the ceiling) and self-consistency (the most common
stated answer among the n; ties and the subsets drawn at random, so it alone
is a Monte Carlo estimate).

Gao et al.'s best-of-n form, gain(d) = d (α − β d) with d = √KL_bon(n), is
fitted to each learned selector's gains over n = 1
(:func:`rewardkit.audit.overoptimization.fit_gao`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rewardkit.audit.overoptimization import best_of_n_mean, fit_gao, kl_best_of_n
from rewardkit_bench.rm_claims import binomial_se

__all__ = ["NS", "SAMPLES", "bon_curves", "gao_fit", "peak_then_fall", "self_consistency"]

#: samples per problem used (every problem of the corpus has at least this many)
SAMPLES = 8
NS = (1, 2, 4, 8)
#: random subsets per problem and n for self-consistency
SC_DRAWS = 400
GOLD = "gold (pass@n, the ceiling)"
SELF_CONSISTENCY = "self-consistency (majority answer)"


def _problems(rows: Sequence[dict[str, Any]], keep: Sequence[int]) -> list[list[int]]:
    """Row indices of each kept problem's first SAMPLES samples, by problem."""
    by_problem: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i in keep:
        by_problem[(rows[i]["task"], rows[i]["question"])].append(i)
    return [indices[:SAMPLES] for indices in by_problem.values() if len(indices) >= SAMPLES]


def self_consistency(
    answers: Sequence[str | None], gold: Sequence[float], n: int, rng: np.random.Generator
) -> float:
    """Expected gold of the majority vote among n of the samples (Monte Carlo).

    The vote counts stated answers only; ties between answers are broken at random;
    a subset that states none picks one of its samples at random.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> self_consistency(["4", "4", "5"], [1.0, 1.0, 0.0], 3, rng)
        1.0
    """
    total = 0.0
    count = len(answers)
    for _ in range(SC_DRAWS):
        subset = rng.choice(count, size=n, replace=False)
        votes = Counter(answers[i] for i in subset if answers[i] is not None)
        if not votes:
            total += gold[int(rng.choice(subset))]
            continue
        top = max(votes.values())
        winners = sorted(answer for answer, c in votes.items() if c == top)
        winner = winners[int(rng.integers(len(winners)))]
        total += gold[next(i for i in subset if answers[i] == winner)]
    return total / SC_DRAWS


def bon_curves(
    rows: Sequence[dict[str, Any]],
    scorers: Mapping[str, np.ndarray],
    keep: Sequence[int],
    seed: int,
) -> dict[str, Any]:
    """Per selector, the mean gold of best-of-n over the kept problems, for n in NS."""
    problems = _problems(rows, keep)
    if not problems:  # no problem has SAMPLES samples (a --quick or a toy corpus)
        return {"ns": list(NS), "problems": 0, "gold": {}}
    index = np.array(problems)  # (P, SAMPLES)
    gold = np.array([[float(rows[i]["label"] == 1) for i in p] for p in problems])
    curves: dict[str, list[float]] = {}
    for name, scores in {**scorers, GOLD: gold.ravel()}.items():
        selector = gold if name == GOLD else np.asarray(scores)[index]
        curves[name] = [float(best_of_n_mean(selector, gold, n).mean()) for n in NS]
    rng = np.random.default_rng(seed)
    curves[SELF_CONSISTENCY] = [
        float(np.mean([
            self_consistency([rows[i]["stated"] for i in p], list(g), n, rng)
            for p, g in zip(problems, gold, strict=True)
        ]))
        for n in NS
    ]  # fmt: skip
    return {"ns": list(NS), "problems": len(problems), "gold": curves}


def gao_fit(gold: Sequence[float]) -> dict[str, float]:
    """Gao et al.'s best-of-n fit to a curve's gains over n = 1.

    Example:
        >>> d = [kl_best_of_n(n) ** 0.5 for n in NS]
        >>> fit = gao_fit([0.2 + x * (0.3 - 0.1 * x) for x in d])
        >>> round(fit["alpha"], 6), round(fit["beta"], 6), round(fit["r2"], 6)
        (0.3, 0.1, 1.0)
    """
    d = np.sqrt([kl_best_of_n(n) for n in NS])
    fit = fit_gao(d, np.asarray(gold) - gold[0], "bon")
    return {"alpha": fit.alpha, "beta": fit.beta, "r2": fit.r2}


def peak_then_fall(gold: Sequence[float], problems: int) -> bool:
    """Whether gold rises by more than 2 binomial standard errors and then ends below
    90 % of its peak (the rule ``rm-overoptimization`` applies).

    Example:
        >>> peak_then_fall([0.2, 0.4, 0.3, 0.2], 200), peak_then_fall([0.2, 0.3, 0.4, 0.45], 200)
        (True, False)
    """
    peak = max(gold)
    se = binomial_se(peak, problems)
    return bool(peak - gold[0] > 2 * se and gold[-1] < 0.9 * peak)
