"""The summary and report of ``rewardkit bench steer-real``.

Every accuracy is the gold (a correct first stated answer) of the one text a
method returns, per problem; a seed's figure is its mean over its problems,
and tables give the median over seeds. The claim pools every seed's problems
and compares SMC with the PRM against best-of-N under the same PRM (its last
step, SMC's final reward) at the same K, problem by problem: the mean
difference and its standard error (the spread of the differences over √n).
"""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np

from rewardkit_bench.runner import claim_lines, markdown_table

__all__ = ["clustered_se", "render", "summarize"]

SAME_PRM = "PRM (last step)"
SMC_PRM = "SMC, PRM potential"


def _steer_runs(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [run for run in results["runs"] if run["kind"] == "steer"]


def _median_gold(runs: list[dict[str, Any]], name: str, n: int) -> float:
    return statistics.median(float(np.mean(r["best_of_n"]["gold"][name][str(n)])) for r in runs)


def _method_rows(runs: list[dict[str, Any]], ns: list[int]) -> list[dict[str, Any]]:
    """One row per best-of-N selector and N, and per steering method and K (medians)."""
    rows = [
        {"method": f"best-of-N, {name}", "k": n, "gold": _median_gold(runs, name, n),
         "tokens": statistics.median(n * r["best_of_n"]["mean_tokens"] for r in runs)}
        for name in runs[0]["best_of_n"]["gold"] for n in ns
    ]  # fmt: skip
    for method, k in sorted({(m["method"], m["k"]) for m in runs[0]["methods"]}):
        found = [m for r in runs for m in r["methods"] if (m["method"], m["k"]) == (method, k)]
        rows.append({"method": method, "k": k,
                     "gold": statistics.median(float(np.mean(m["gold"])) for m in found),
                     "tokens": statistics.median(m["tokens"] for m in found),
                     "seconds_per_token": statistics.median(m["seconds_per_token"] for m in found),
                     "statuses": _summed([m.get("statuses") for m in found])})  # fmt: skip
    return rows


def _summed(counts: list[dict[str, int] | None]) -> dict[str, int] | None:
    """Status counts added over seeds (None where a run did not record them)."""
    if any(c is None for c in counts):
        return None
    total: dict[str, int] = {}
    for c in counts:
        for key, value in (c or {}).items():
            total[key] = total.get(key, 0) + value
    return total


def clustered_se(diff: np.ndarray, clusters: list[Any]) -> float:
    """The standard error of mean(diff) with the rows of one cluster (a question drawn by
    several seeds) not independent: √(Σ_c (Σ_{i∈c} (d_i − d̄))²) / n (CR0).

    Example:
        >>> round(clustered_se(np.array([1.0, 0.0, 1.0, 0.0]), ["a", "b", "c", "d"]), 4)
        0.25
    """
    if len(diff) < 2:
        return float("nan")
    centred = diff - diff.mean()
    sums: dict[Any, float] = {}
    for value, cluster in zip(centred, clusters, strict=True):
        sums[cluster] = sums.get(cluster, 0.0) + float(value)
    return float(np.sqrt(sum(v * v for v in sums.values())) / len(diff))


def _comparisons(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """SMC under the PRM against best-of-N under the same PRM, per K, problem by problem."""
    out = {}
    for k in sorted({m["k"] for m in runs[0]["methods"]}):
        smc_runs = [m for r in runs for m in r["methods"] if (m["method"], m["k"]) == (SMC_PRM, k)]
        smc_gold = np.concatenate([m["gold"] for m in smc_runs])
        bon_gold = np.concatenate([r["best_of_n"]["gold"][SAME_PRM][str(k)] for r in runs])
        questions = [tuple(q) for r in runs for q in r["problems"]]
        diff = smc_gold - bon_gold
        out[str(k)] = {
            "smc": float(smc_gold.mean()), "best_of_n": float(bon_gold.mean()),
            "difference": float(diff.mean()), "se": clustered_se(diff, questions),
            "problems": len(diff), "questions": len(set(questions)),
            "smc_tokens": statistics.median(m["tokens"] for m in smc_runs),
            "bon_tokens": statistics.median(k * r["best_of_n"]["mean_tokens"] for r in runs),
        }  # fmt: skip
    return out


def _claims(
    comparisons: dict[str, dict[str, Any]],
    fits: dict[str, dict[str, Any]],
    curves: dict[str, list[float]],
) -> dict[str, dict[str, Any]]:
    claims = {}
    if comparisons:
        k = max(comparisons, key=int)
        top = comparisons[k]
        met = top["difference"] > 2 * top["se"] and top["smc_tokens"] <= 1.1 * top["bon_tokens"]
        claims["SMC with the learned PRM beats best-of-N under the same PRM at equal tokens by "
               "more than 2 standard errors (Sampling for Quality: +9-15 %)"] = {
            "met": bool(met),
            "detail": f"K={k}: {top['smc']:.3f} vs {top['best_of_n']:.3f}, difference "
                      f"{top['difference']:+.3f} ± {top['se']:.3f} over {top['problems']} "
                      f"problems ({top['questions']} questions); tokens "
                      f"{top['smc_tokens']:.0f} vs {top['bon_tokens']:.0f} a prompt",
        }  # fmt: skip
    for name, fit in fits.items():
        claims[f"best-of-n under the {name} shows Gao et al.'s peak-then-fall of gold"] = {
            "met": bool(fit["peak_then_fall"]),
            "detail": " → ".join(f"{g:.3f}" for g in curves[name])
            + f" at n = 1, 2, 4, 8; fit R² {fit['r2']:.2f}",
        }
    return claims


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Median tables over seeds, best-of-n fits, the SMC claim and the cost per token."""
    from rewardkit_bench.real_rm_bon import gao_fit, peak_then_fall

    runs = _steer_runs(results)
    if not runs:
        return {"table": [], "claims": {}}
    ns = [int(n) for n in runs[0]["best_of_n"]["gold"]["BT head"]]
    curves = {
        name: [_median_gold(runs, name, n) for n in ns] for name in runs[0]["best_of_n"]["gold"]
    }
    per_seed_problems = min(len(r["problems"]) for r in runs)
    fits = {}
    if ns == [1, 2, 4, 8]:
        fits = {
            name: {**gao_fit(curve), "peak_then_fall": peak_then_fall(curve, per_seed_problems)}
            for name, curve in curves.items()
            if name in ("BT head", SAME_PRM, "PRM (weakest step)")
        }
    comparisons = _comparisons(runs)
    return {
        "table": _method_rows(runs, ns),
        "ns": ns,
        "curves": curves,
        "fits": fits,
        "comparisons": comparisons,
        "claims": _claims(comparisons, fits, curves),
        "problems": sum(len(r["problems"]) for r in runs),
        "sampling_seconds_per_token": statistics.median(
            r["sampling_seconds_per_token"] for r in runs
        ),
    }


def render(results: dict[str, Any]) -> str:
    """The markdown report."""
    lines = ["# steer-real: steering SmolLM2-135M-Instruct on its own arithmetic", ""]
    lines += _setup(results)
    lines += _paired(next((r for r in results["runs"] if r["kind"] == "paired"), None))
    lines += _gold_table(results)
    lines += _comparison_table(results.get("comparisons", {}))
    lines += _fit_table(results)
    if results.get("claims"):
        lines += ["## Claims", "", *claim_lines(results["claims"]), ""]
    return "\n".join(lines)


def _setup(results: dict[str, Any]) -> list[str]:
    runs = _steer_runs(results)
    labels = next((r for r in results["runs"] if r["kind"] == "labels"), None)
    times = [f"seed {r['seed']} {r['seconds'] / 60:.1f} min" for r in runs if "seconds" in r]
    lines = [f"Command: `{results.get('command', 'rewardkit bench steer-real')}`; labels "
             f"{labels['seconds'] / 60 if labels else float('nan'):.1f} min, "
             + ", ".join(times) + ".", ""]  # fmt: skip
    if labels:
        lines += [
            f"Math-Shepherd labels: {labels['rows']} training completions; "
            f"{labels['labelled_intermediate']} of their {labels['intermediate_steps']} "
            f"intermediate 16-token steps labelled ({labels['seconds'] / 60:.1f} min).",
            "",
        ]
    if runs:
        fit = runs[0]["fit"]
        lines += [
            f"PRM: {fit['labelled_steps']} labelled steps, L2 {fit['prm_l2']:g} (validation "
            f"log-loss {fit['prm_validation_loss']:.3f}); BT head: L2 {fit['bt_l2']:g} "
            f"(validation paired accuracy {fit['bt_validation_accuracy']:.3f}).",
            "",
            f"{len(runs)} seeds × {len(runs[0]['problems'])} held-out prompts; medians over seeds.",
            "",
        ]
    return lines  # fmt: skip


def _paired(paired: dict[str, Any] | None) -> list[str]:
    if not paired:
        return []
    names = list(paired["accuracy"])
    accuracy = [
        [n, f"{paired['accuracy'][n]:.3f}", f"{paired['accuracy_controlled'][n]:.3f}"]
        for n in names
    ]
    probes = [[n, *(f"{w:.2f}" for w in paired["probe_wins"][n].values())] for n in names]
    return ["## Paired accuracy on the held-out half's answers", "",
            f"{paired['rows']} labelled answers of held-out questions (the corpus's); "
            f"{paired['pairs']} (right, wrong) pairs of a question, {paired['pairs_controlled']} "
            "of them style controlled (both state a number, lengths within 25 %). 0.5 is chance.",
            "", markdown_table(["scorer", "all pairs", "style controlled"], accuracy), "",
            "Probes: share of held-out questions with a right answer where the content-free "
            "completion outscores the mean of its right answers.", "",
            markdown_table(["scorer", *(f"`{p}`" for p in paired["probe_wins"][names[0]])],
                           probes), ""]  # fmt: skip


def _gold_table(results: dict[str, Any]) -> list[str]:
    table = results.get("table", [])
    if not table:
        return []

    def statuses(row: dict[str, Any]) -> str:
        counts = row.get("statuses")
        return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) if counts else ""

    rows = [
        [
            r["method"],
            r["k"],
            f"{r['gold']:.3f}",
            f"{r['tokens']:.0f}",
            f"{r['seconds_per_token'] * 1000:.1f} ms" if "seconds_per_token" in r else "",
            statuses(r),
        ]
        for r in table
    ]
    return ["## Gold at equal generated tokens", "",
            markdown_table(["method", "N or K", "gold", "tokens a prompt", "s/token",
                            "answers (all seeds)"], rows), "",
            f"Plain sampling (the best-of-N pool): "
            f"{results['sampling_seconds_per_token'] * 1000:.1f} ms a token.", ""]  # fmt: skip


def _comparison_table(comparisons: dict[str, Any]) -> list[str]:
    if not comparisons:
        return []
    rows = [
        [
            k,
            f"{c['smc']:.3f}",
            f"{c['best_of_n']:.3f}",
            f"{c['difference']:+.3f} ± {c['se']:.3f}",
            c["problems"],
            f"{c['smc_tokens']:.0f} / {c['bon_tokens']:.0f}",
        ]
        for k, c in comparisons.items()
    ]
    return ["## SMC with the PRM against best-of-N under the same PRM", "",
            "Per problem, SMC's gold against best-of-N's expected gold at N = K; the standard "
            "error is clustered by question (a question can be drawn by several seeds).", "",
            markdown_table(["K", "SMC", "best-of-N", "difference ± SE", "problems",
                            "tokens (SMC / BoN)"], rows), ""]  # fmt: skip


def _fit_table(results: dict[str, Any]) -> list[str]:
    fits = results.get("fits", {})
    if not fits:
        return []
    rows = [
        [
            name,
            *(f"{g:.3f}" for g in results["curves"][name]),
            f"{f['alpha']:.3f}",
            f"{f['beta']:.3f}",
            f"{f['r2']:.2f}",
            "yes" if f["peak_then_fall"] else "no",
        ]
        for name, f in fits.items()
    ]
    return ["## Best-of-n under each proxy (Gao et al.'s fit)", "",
            markdown_table(["selector", *(f"n={n}" for n in results["ns"]), "α", "β", "R²",
                            "peak then fall"], rows), ""]  # fmt: skip
