"""The report of ``rewardkit bench real-rm``, built from its results.json alone."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rewardkit_bench.reporting import claim_lines, markdown_table

__all__ = ["render"]


def render(results: dict[str, Any], target: float) -> str:
    """Markdown: the corpus, the verifiers, the learned scorers and probes, the claims."""
    runs = results["runs"]
    verify = next((run for run in runs if run["kind"] == "verify"), None)
    rm_runs = [run for run in runs if run["kind"] == "rm"]
    lines = [
        "# real-rm: rewards on SmolLM2-135M-Instruct's own answers",
        "",
        f"Command: `{results['command']}` ({results['seconds'] / 60:.1f} min). "
        f"{results['rows']} sampled completions; labels are the corpus's stated answer scored "
        "by reasoning-gym (see `benchmarks/corpora/README.md`).",
        "",
    ]
    if verify is not None:
        lines += _verifiers(verify)
    if rm_runs:
        lines += _scorers(results, rm_runs)
        lines += _probes(rm_runs)
        lines += _best_of_n(results.get("best_of_n"))
        lines += _claims(results, target)
    return "\n".join(lines) + "\n"


def _verifiers(verify: dict[str, Any]) -> list[str]:
    rows = [
        [name, f"{found['agreement']:.3f}", found["false_positives"],
         ", ".join(f"{k} {v}" for k, v in sorted(found["outcomes"].items()))]
        for name, found in verify["verifiers"].items()
    ]  # fmt: skip
    return [
        "## Verifiers against the labels",
        "",
        f"{verify['labelled']} labelled completions.",
        "",
        markdown_table(["verifier", "agreement", "false positives", "outcomes"], rows),
        "",
    ]


def _scorers(results: dict[str, Any], rm_runs: list[dict[str, Any]]) -> list[str]:
    medians = results["medians"]
    rows = [[name, f"{v['all']:.3f}", f"{v['controlled']:.3f}"] for name, v in medians.items()]
    first = rm_runs[0]
    return [
        f"## Paired accuracy on held-out prompts (median of {len(rm_runs)} splits)",
        "",
        f"Per split: {first['train_pairs']} training pairs; {first['test_pairs']} held-out "
        f"pairs, {first['test_pairs_controlled']} of them style controlled (both state a "
        "number, lengths within 25 %). 0.5 is chance.",
        "",
        markdown_table(["scorer", "all pairs", "style controlled"], rows),
        "",
    ]


def _probes(rm_runs: list[dict[str, Any]]) -> list[str]:
    rates: Counter[tuple[str, str]] = Counter()
    for run in rm_runs:
        for scorer, by_probe in run["probe_wins"].items():
            for probe, rate in by_probe.items():
                rates[(scorer, probe)] += rate / len(rm_runs)
    scorers = sorted({scorer for scorer, _ in rates})
    probes = list(rm_runs[0]["probe_wins"][scorers[0]]) if scorers else []
    rows = [[s, *(f"{rates[(s, p)]:.2f}" for p in probes)] for s in scorers]
    return [
        "## Master-key probes",
        "",
        "Share of held-out prompts (with a correct answer) where the probe, given as the "
        "whole completion, outscores the mean of that prompt's correct answers (mean over "
        "splits; lower is better).",
        "",
        markdown_table(["scorer", *(f"`{p}`" for p in probes)], rows),
        "",
    ]


def _best_of_n(bon: dict[str, Any] | None) -> list[str]:
    if bon is None:
        return []
    ns, fits = bon["ns"], bon["fits"]
    rows = []
    for name, curve in bon["gold"].items():
        fit = fits.get(name)
        shape = (
            [f"{fit['alpha']:.3f}", f"{fit['beta']:.3f}", f"{fit['r2']:.2f}",
             "yes" if fit["peak_then_fall"] else "no"]
            if fit else ["", "", "", ""]
        )  # fmt: skip
        rows.append([name, *(f"{v:.3f}" for v in curve), *shape])
    return [
        f"## Best-of-n on held-out problems (median of splits, {bon['problems']} problems)",
        "",
        "Gold (a correct stated answer) of the sample each selector ranks first among n of "
        "a problem's first 8 samples, exact over every subset (between equal scores the "
        "later sample wins; self-consistency: Monte Carlo). Gao et al.'s best-of-n form "
        "gain = d (α − β d), d = √KL_bon(n), fitted to the gains over n = 1; *peak then "
        "fall*: gold rises by over 2 standard errors, then ends below 90 % of its peak.",
        "",
        markdown_table(
            ["selector", *(f"n={n}" for n in ns), "α", "β", "R²", "peak then fall"], rows
        ),
        "",
    ]


def _claims(results: dict[str, Any], target: float) -> list[str]:
    best = results.get("best_learned")
    if best is None:
        return []
    name, value = best
    claims = {
        f"best learned scorer's style-controlled paired accuracy ≥ {target:.2f} (issue #31)": {
            "met": value["controlled"] >= target,
            "detail": f"{name}: {value['controlled']:.3f}",
        }
    }
    bon = results.get("best_of_n")
    if bon is not None and name in bon["fits"]:
        fit, curve = bon["fits"][name], bon["gold"][name]
        claims["best-of-n under the BT head shows Gao et al.'s peak-then-fall of gold"] = {
            "met": fit["peak_then_fall"],
            "detail": "gold "
            + " → ".join(f"{v:.3f}" for v in curve)
            + f" at n = {', '.join(map(str, bon['ns']))}; fit R² {fit['r2']:.2f}",
        }
    return ["## Claims", "", *claim_lines(claims)]
