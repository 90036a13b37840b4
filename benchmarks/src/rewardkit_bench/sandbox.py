"""``rewardkit bench sandbox``: the code sandbox under attack, and what its safety costs.

Two parts, in one run:

1. **Attacks.** Every attack of :mod:`rewardkit.audit.sandbox_attacks` (the
   rows of the issue's table: loopback services, home files, fork limits,
   daemons, signals to the caller, environment secrets, Unix sockets, scratch
   files, /dev/shm memory, early exits, always-equal objects, cross-kills)
   runs against the full sandbox: escaped yes/no, seconds, status.
2. **Throughput.** Programs per second for a trivial passing program and for
   a 1 s CPU spinner, at 1 and 2 concurrent callers, in the sandbox and, as the
   peer, in a bare ``subprocess`` with only a timeout (the same interpreter, the
   same files). The cost of safety is the ratio, and the per-program overhead
   is the difference of median latencies of the trivial program at 1 caller.

Targets: 0 escapes, 0 passes by early exit or always-equal objects, 0
cross-kills, overhead at most 50 ms per program. Figures are medians over
``--seeds`` repetitions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardkit.audit.sandbox_attacks import (
    ATTACKS,
    NORMAL_USER_UID,
    CannotRunAsUser,
    run_attack,
    run_attacks_as_user,
)
from rewardkit.verify.sandbox import Sandbox, SandboxLimits, sandbox_capabilities
from rewardkit_bench.runner import Suite, drive, environment, markdown_table

__all__ = ["PROGRAMS", "main"]

PROGRAMS = {
    "trivial": "print(sum(range(10)))\n",
    "spinner_1s": (
        "import time\nend = time.time() + 1.0\nwhile time.time() < end:\n    pass\nprint('done')\n"
    ),
}
#: programs each caller runs per unit: (full run, --quick)
PER_CALLER = {"trivial": (40, 10), "spinner_1s": (4, 2)}
CALLERS = (1, 2)
RUNNERS = ("sandbox", "bare_subprocess")
LIMITS = SandboxLimits(wall_seconds=5.0, cpu_seconds=5)
OVERHEAD_TARGET_MS = 50.0
GAMING_ROWS = ("early_exit", "always_equal", "forged_result")
CROSS_KILL_ROWS = ("cross_kill_threads", "cross_kill_processes")


@dataclass(frozen=True)
class Unit:
    kind: str  # "attack", "attacks_as_normal_user" or "throughput"
    name: str  # attack name or program name
    callers: int = 1
    runner: str = "sandbox"
    seed: int = 0
    per_caller: int = 1


def _bare_run(python: str, source: str, wall_seconds: float) -> tuple[bool, float]:
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rewardkit-bare-") as folder:
        program = Path(folder, "program.py")
        program.write_text(source)
        try:
            done = subprocess.run(
                [python, "-I", "-S", "-B", str(program)],
                cwd=folder,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=wall_seconds,
            )
            ok = done.returncode == 0
        except subprocess.TimeoutExpired:
            ok = False
    return ok, time.monotonic() - start


def _throughput(unit: Unit) -> dict[str, Any]:
    source = PROGRAMS[unit.name]
    sandboxes = [Sandbox(LIMITS, slots=1) for _ in range(unit.callers)]
    python = sandboxes[0].python
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()

    def caller(index: int) -> None:
        nonlocal failures
        for _ in range(unit.per_caller):
            if unit.runner == "sandbox":
                start = time.monotonic()
                ok = sandboxes[index].run(source).status == "ok"
                seconds = time.monotonic() - start
            else:
                ok, seconds = _bare_run(python, source, LIMITS.wall_seconds)
            with lock:
                latencies.append(seconds)
                failures += not ok

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(unit.callers)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - start
    return {
        "programs": len(latencies),
        "failures": failures,
        "wall_seconds": wall,
        "programs_per_second": len(latencies) / wall,
        "median_latency_ms": statistics.median(latencies) * 1000,
    }


class SandboxBench(Suite):
    """The suite: one unit per attack, then one per (program, callers, runner, seed)."""

    name = "sandbox"
    description = __doc__
    quick_help = "one seed, fewer programs per caller"
    quick_sets = ("seeds",)
    options = ("seeds", "rerender")

    def command(self, args: argparse.Namespace) -> str:
        command = f"rewardkit bench {self.name}" + (" --quick" if args.quick else "")
        return command + ("" if args.quick or args.seeds == 3 else f" --seeds {args.seeds}")

    def prepare(self, args: argparse.Namespace) -> None:
        self.capabilities = sandbox_capabilities()
        print(self.capabilities.describe(), flush=True)

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Unit]:
        if runs:
            return []
        units = [Unit("attack", attack.name) for attack in ATTACKS]
        units.append(Unit("attacks_as_normal_user", "all"))
        seeds = 1 if args.quick else args.seeds
        for seed in range(seeds):
            for program, counts in PER_CALLER.items():
                for callers in CALLERS:
                    for runner in RUNNERS:
                        per_caller = counts[1] if args.quick else counts[0]
                        units.append(Unit("throughput", program, callers, runner, seed, per_caller))
        return units

    def run_unit(self, unit: Unit) -> dict[str, Any]:
        record: dict[str, Any] = {
            "kind": unit.kind,
            "name": unit.name,
            "callers": unit.callers,
            "runner": unit.runner,
            "seed": unit.seed,
        }
        if unit.kind == "attack":
            return record | {"user": _this_user()} | run_attack(unit.name).as_dict()
        if unit.kind == "attacks_as_normal_user":
            try:
                outcomes = run_attacks_as_user()
            except CannotRunAsUser as reason:
                return record | {"skipped": str(reason)}
            return record | {"outcomes": [o.as_dict() for o in outcomes]}
        return record | _throughput(unit)

    def describe(self, run: dict[str, Any]) -> str | None:
        if run["kind"] == "attacks_as_normal_user":
            if "skipped" in run:
                return f"attacks as a normal user: skipped ({run['skipped']})"
            escaped = [o["name"] for o in run["outcomes"] if o["escaped"]]
            return f"attacks as a normal user (uid {NORMAL_USER_UID}): {len(escaped)} escaped"
        if run["kind"] == "attack":
            verdict = "ESCAPED" if run["escaped"] else "held"
            return f"attack {run['name']}: {verdict} ({run['status']}, {run['seconds']:.2f}s)"
        return (
            f"{run['name']} x{run['callers']} {run['runner']}: "
            f"{run['programs_per_second']:.1f}/s, median {run['median_latency_ms']:.1f} ms"
        )

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "environment": environment(),
            "capabilities": self.capabilities.as_dict(),
            "seeds": 1 if args.quick else args.seeds,
            "runs": runs,
        }

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        return summarize(results["runs"])

    def report(self, results: dict[str, Any], plots: list[str]) -> str | None:
        return render_report(results)


def _this_user() -> str:
    return "root" if os.geteuid() == 0 else f"uid {os.geteuid()}"


def attack_outcomes(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every attack outcome of a run, each with the user it ran as."""
    found = [run for run in runs if run["kind"] == "attack"]
    for run in runs:
        if run["kind"] == "attacks_as_normal_user" and "outcomes" in run:
            user = f"normal user (uid {NORMAL_USER_UID})"
            found += [outcome | {"user": user} for outcome in run["outcomes"]]
    return found


def summarize(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Throughput medians over seeds, the sandbox/bare ratios, and the four targets."""
    attacks = attack_outcomes(runs)
    throughput: dict[str, dict[str, Any]] = {}
    for program in PROGRAMS:
        for callers in CALLERS:
            row: dict[str, Any] = {"program": program, "callers": callers}
            for runner in RUNNERS:
                mine = [
                    r
                    for r in runs
                    if r["kind"] == "throughput"
                    and (r["name"], r["callers"], r["runner"]) == (program, callers, runner)
                ]
                if not mine:
                    continue
                row[f"{runner}_per_second"] = statistics.median(
                    r["programs_per_second"] for r in mine
                )
                row[f"{runner}_latency_ms"] = statistics.median(
                    r["median_latency_ms"] for r in mine
                )
                row[f"{runner}_failures"] = sum(r["failures"] for r in mine)
            if "sandbox_per_second" in row and "bare_subprocess_per_second" in row:
                row["ratio"] = row["sandbox_per_second"] / row["bare_subprocess_per_second"]
            throughput[f"{program}@{callers}"] = row
    trivial = throughput.get("trivial@1", {})
    overhead = trivial.get("sandbox_latency_ms", float("nan")) - trivial.get(
        "bare_subprocess_latency_ms", float("nan")
    )
    escapes = [f"{run['name']} as {run['user']}" for run in attacks if run["escaped"]]
    targets = {
        "escapes": {"value": len(escapes), "target": 0, "met": not escapes, "which": escapes},
        "early_exit_passes": _count_target(attacks, GAMING_ROWS),
        "cross_kills": _count_target(attacks, CROSS_KILL_ROWS),
        "overhead_ms": {
            "value": overhead,
            "target": OVERHEAD_TARGET_MS,
            "met": bool(overhead <= OVERHEAD_TARGET_MS),
        },
    }
    return {"throughput": throughput, "targets": targets}


def _count_target(attacks: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    hits = [
        f"{run['name']} as {run['user']}"
        for run in attacks
        if run["name"] in names and run["escaped"]
    ]
    return {"value": len(hits), "target": 0, "met": not hits, "which": hits}


def render_report(results: dict[str, Any]) -> str:
    capabilities = results["capabilities"]
    checks = [k for k in capabilities if isinstance(capabilities[k], bool)]
    lines = [
        "# Sandbox: attacks and the cost of safety",
        "",
        f"Command: `{results['command']}` ({results['seconds']:.0f} s; "
        f"{results['environment']['cpus']} CPUs, Python {results['environment']['python']}; "
        f"medians over {results['seeds']} seed(s)).",
        "",
        f"Backend: {capabilities['backend']}; enforced: "
        + ", ".join(f"{k} {'yes' if capabilities[k] else 'NO'}" for k in checks)
        + ".",
        "",
        "## Attacks",
        "",
    ]
    rows = [
        [run["name"], run["user"], run["row"], "**ESCAPED**" if run["escaped"] else "no",
         run["status"], f"{run['seconds']:.2f}",
         run["detail"].replace("|", "/").replace("\n", " ")[:90]]
        for run in attack_outcomes(results["runs"])
    ]  # fmt: skip
    header = ["attack", "as", "table row", "escaped", "status", "s", "evidence"]
    lines.append(markdown_table(header, rows))
    skipped = [run["skipped"] for run in results["runs"] if "skipped" in run]
    if skipped:
        lines += ["", f"Not run as a normal user: {skipped[0]}."]
    lines += ["", "## Throughput (programs per second; peer: bare subprocess with a timeout)", ""]
    rows = []
    for row in results["throughput"].values():
        rows.append(
            [
                row["program"],
                row["callers"],
                f"{row.get('sandbox_per_second', float('nan')):.2f}",
                f"{row.get('bare_subprocess_per_second', float('nan')):.2f}",
                f"{row.get('ratio', float('nan')):.2f}",
                f"{row.get('sandbox_latency_ms', float('nan')):.1f}",
                f"{row.get('bare_subprocess_latency_ms', float('nan')):.1f}",
                row.get("sandbox_failures", 0) + row.get("bare_subprocess_failures", 0),
            ]
        )
    header = ["program", "callers", "sandbox /s", "bare /s", "ratio", "sandbox ms", "bare ms"]
    lines.append(markdown_table([*header, "failures"], rows))
    lines += ["", "## Targets", ""]
    rows = []
    for name, target in results["targets"].items():
        value = target["value"]
        shown = f"{value:.1f}" if isinstance(value, float) else str(value)
        which = f" ({', '.join(target['which'])})" if target.get("which") else ""
        rows.append(
            [name, shown + which, f"≤ {target['target']}", "met" if target["met"] else "**missed**"]
        )
    lines.append(markdown_table(["target", "value", "goal", ""], rows))
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench sandbox``: see the module docs."""
    return drive(SandboxBench(), argv)
