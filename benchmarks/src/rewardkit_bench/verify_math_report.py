"""The targets and the markdown reports of ``rewardkit bench verify-math`` (the report and the
list of disagreements), from its results.json alone."""

from __future__ import annotations

from typing import Any

from rewardkit_bench.reporting import markdown_table

__all__ = ["CORPORA", "TITLES", "render_disagreements", "render_report", "targets"]

CORPORA = ("regressions", "reasoning-gym", "adversarial")
TITLES = {
    "regressions": "Math-Verify's regression corpus (outside data)",
    "reasoning-gym": "reasoning-gym corpus (labels are this project's own construction)",
    "adversarial": "adversarial completions (this project's construction; every one must score 0)",
}


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"


def _corpus_table(result: dict[str, Any]) -> str:
    rk, mv = result["rewardkit"], result.get("math_verify")
    systems = [rk] if mv is None else [rk, mv]

    def row(name: str, key: Any, fmt: str, ratio: str = "") -> list[str]:
        """``ratio``: "peer" (rewardkit / math-verify on this row) or "serial" (rewardkit /
        math-verify's one-at-a-time rate)."""
        values = [key(s) for s in systems]
        cells = ["—" if v is None else format(v, fmt) for v in values]
        if mv is not None:
            peer = mv["one_at_a_time_per_second"] if ratio == "serial" else values[1]
            cells.append(_ratio(values[0], peer) if ratio else "")
        return [name, *cells]

    rows = [
        row("label agreement", lambda s: s["agreement"], ".4f", ratio="peer"),
        row("false positives", lambda s: s["false_positives"], "d"),
        row("no answer", lambda s: s["outcomes"].get("no_answer", 0), "d"),
        row("timeouts", lambda s: s["outcomes"].get("timeout", 0), "d"),
        row("errors", lambda s: s["outcomes"].get("error", 0), "d"),
        row(
            "throughput, batched (items/s; ratio to math-verify one at a time)",
            lambda s: s.get("batched_per_second"),
            ",.0f",
            ratio="serial",
        ),
        row(
            "throughput, one at a time (items/s)",
            lambda s: s["one_at_a_time_per_second"],
            ",.0f",
            ratio="peer",
        ),
        row("latency p50 (ms)", lambda s: s["latency"]["p50_ms"], ".2f"),
        row("latency p99 (ms)", lambda s: s["latency"]["p99_ms"], ".1f"),
        row("latency max (ms)", lambda s: s["latency"]["max_ms"], ".0f"),
    ]
    if "batched_equals_one_at_a_time" in rk:
        same = "yes" if rk["batched_equals_one_at_a_time"] else "NO"
        rows.append(["same verdicts batched and one at a time", same] + [""] * (len(rows[0]) - 2))
    header = ["", "rewardkit"] + ([] if mv is None else ["math-verify", "ratio"])
    return markdown_table(header, rows)


def _two_process_table(results: dict[str, Any]) -> str:
    rows = []
    for corpus in CORPORA:
        result = results["corpora"].get(corpus)
        if not result or "rewardkit_x2" not in result:
            continue
        single = result["rewardkit"]
        for n, run in enumerate(result["rewardkit_x2"], start=1):
            rows.append(
                [
                    corpus,
                    f"process {n}",
                    f"{run['agreement']:.4f} ({single['agreement']:.4f})",
                    run["false_positives"],
                    run["outcomes"].get("timeout", 0),
                    f"{run['latency']['p99_ms']:.1f}",
                    f"{run['latency']['max_ms']:.0f}",
                ]
            )
    header = ["corpus", "", "agreement (alone)", "false positives", "timeouts", "p99 ms", "max ms"]
    return markdown_table(header, rows)


def targets(results: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets, each met or missed with the figure reached."""
    corpora, timeout = results["corpora"], results["config"]["timeout"]
    limit_ms = (timeout + 0.5) * 1000
    met: dict[str, tuple[bool, str]] = {}
    regressions = corpora.get("regressions")
    if regressions:
        rk = regressions["rewardkit"]
        met["regression corpus: agreement >= 0.99, 0 false positives"] = (
            rk["agreement"] >= 0.99 and rk["false_positives"] == 0,
            f"{rk['agreement']:.4f}, {rk['false_positives']} false positives",
        )
    adversarial = corpora.get("adversarial", {}).get("rewardkit")
    if adversarial:
        met["adversarial: 0 false positives"] = (
            adversarial["false_positives"] == 0,
            f"{adversarial['false_positives']} of {adversarial['items']}",
        )
    gym = corpora.get("reasoning-gym", {})
    if "math_verify" in gym and "rewardkit" in gym:
        ratio = (
            gym["rewardkit"]["batched_per_second"] / gym["math_verify"]["one_at_a_time_per_second"]
        )
        met["reasoning-gym throughput >= 10x math-verify one at a time"] = (
            ratio >= 10,
            f"{ratio:.1f}x (batched {gym['rewardkit']['batched_per_second']:,.0f}/s vs "
            f"{gym['math_verify']['one_at_a_time_per_second']:,.0f}/s)",
        )
    alone = [corpora[c]["rewardkit"] for c in corpora if "rewardkit" in corpora[c]]
    if alone:
        worst = max(scored["latency"]["max_ms"] for scored in alone)
        met["max latency <= timeout + 0.5 s, every item"] = (
            worst <= limit_ms,
            f"{worst:,.0f} ms vs {limit_ms:,.0f} ms",
        )
    pairs = [
        (corpora[c]["rewardkit"], run)
        for c in corpora
        if "rewardkit" in corpora[c]
        for run in corpora[c].get("rewardkit_x2", [])
    ]
    if pairs:
        same = all(abs(run["agreement"] - alone["agreement"]) < 1e-12 for alone, run in pairs)
        worst_pair = max(run["latency"]["max_ms"] for _, run in pairs)
        met["2 processes at once: same agreement, max latency <= timeout + 0.5 s"] = (
            same and worst_pair <= limit_ms,
            f"agreement {'identical' if same else 'DIFFERS'}, max {worst_pair:,.0f} ms",
        )
    return {"targets": {name: {"met": m, "detail": d} for name, (m, d) in met.items()}}


def render_disagreements(results: dict[str, Any]) -> str:
    """Every kept disagreement with the labels, per corpus and verifier."""
    lines = ["# verify-math: disagreements with the labels", ""]
    for corpus in CORPORA:
        result = results["corpora"].get(corpus)
        if not result:
            continue
        for system in ("rewardkit", "math_verify"):
            if system not in result:
                continue
            scored = result[system]
            kept = scored["disagreements"]
            kinds = scored.get("disagreement_kinds", [])
            lines += [
                f"## {corpus}: {system} ({scored['disagreement_count']} disagreements"
                + (
                    f", first {len(kept)} shown)"
                    if len(kept) < scored["disagreement_count"]
                    else ")"
                ),
                "",
            ]
            if kinds:
                lines += [
                    markdown_table(["task", "variant", "label", "outcome", "count"], kinds[:40]),
                    "",
                ]
            rows = [
                [
                    d["label"],
                    d["outcome"],
                    f"`{d['gold'][:60]}`",
                    f"`{d['completion'][-100:]}`".replace("\n", " ").replace("|", "\\|"),
                    f"`{d['extracted']}`".replace("|", "\\|")[:80],
                    d["variant"][:40],
                ]
                for d in kept
            ]
            if rows:
                lines += [
                    markdown_table(
                        ["label", "outcome", "gold", "completion (end)", "extracted", "variant"],
                        rows,
                    ),
                    "",
                ]
    return "\n".join(lines) + "\n"


def render_report(results: dict[str, Any]) -> str:
    """The report: each corpus (outside data first), two processes, the targets."""
    config, sizes = results["config"], results["sizes"]
    lines = [
        "# verify-math",
        "",
        f"Regenerate: `{results['command']}`",
        "",
        f"rewardkit `MathVerifier` defaults (math-verify inside killable workers, "
        f"`MathPolicy()`), timeout {config['timeout']} s, "
        f"{results['environment']['cpus']} CPUs. math-verify "
        f"{results['environment'].get('math_verify', '?')}, called as its README shows, one "
        "item at a time, with its own timeouts set to the same budget. rewardkit also gets "
        "each item's prompt, as a training loop passes it. Batched throughput is rewardkit "
        "scoring the whole corpus in chunks of 512; latencies are one item at a time.",
        "",
    ]
    for number, corpus in enumerate(CORPORA, start=1):
        result = results["corpora"].get(corpus)
        lines += [f"## {number}. {TITLES[corpus]}", ""]
        if not result:
            lines += [f"Not run: {results.get('skipped', {}).get(corpus, 'not found')}.", ""]
            continue
        lines += [f"{sizes[corpus]}", "", _corpus_table(result), ""]
    lines += [
        "## Two processes verifying at once",
        "",
        "Each corpus scored one item at a time by two processes at once, each starting its "
        "own pool cold (agreement alone in brackets).",
        "",
        _two_process_table(results),
        "",
        "## Targets",
        "",
    ]
    for name, target in results.get("targets", {}).items():
        lines.append(f"- {name}: {'met' if target['met'] else 'MISSED'} ({target['detail']})")
    lines += [
        "",
        "## Notes",
        "",
        "- Agreement counts a timeout or an error (NaN: the sample is skipped, never scored) "
        "as a disagreement, for both verifiers; false positives are items scored 1 against "
        "a label of 0. math-verify's own timeouts return False, so they count as wrong.",
        "- The reasoning-gym labels count a decimal that differs from the gold in any digit "
        "as wrong; `MathPolicy()`, like math-verify, rounds decimals to 6 places, so changes "
        "beyond the 6th decimal (and any two numbers below 5e-7) score 1 there. "
        "`MathPolicy(float_rounding=...)` or `rel_tol` changes that.",
        "- Every disagreement with the labels, counted by kind and listed, per corpus and "
        "verifier: [disagreements.md](disagreements.md) (also in `results.json`).",
    ]
    return "\n".join(lines) + "\n"
