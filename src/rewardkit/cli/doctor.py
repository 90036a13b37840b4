"""``rewardkit doctor``: what this machine gives rewardkit.

It prints the versions of Python, rewardkit and the libraries it plugs into,
which optional extras are installed, the state of the math worker pool after
one real job, and the code sandbox's capability report (measured by a probe
run inside the sandbox). It exits 1 when a part the defaults rely on is
missing: the full sandbox or a working math pool.

Example:
    $ rewardkit doctor
    $ rewardkit doctor --json doctor.json
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import re
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["add_doctor_parser", "diagnose", "run_doctor"]

#: distributions whose versions matter to a report
LIBRARIES = (
    "rewardkit",
    "numpy",
    "torch",
    "sympy",
    "math-verify",
    "latex2sympy2_extended",
    "gymnasium",
    "minigrid",
    "stable-baselines3",
    "transformers",
    "trl",
    "datasets",
    "reasoning-gym",
    "fastapi",
    "uvicorn",
    "ray",
)
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def add_doctor_parser(commands: Any) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="print versions, installed extras, the math worker pool and the sandbox report",
        description="Check what this machine gives rewardkit; exit 1 if the full code "
        "sandbox or the math worker pool is not available.",
    )
    doctor.add_argument("--json", type=Path, default=None, help="also write the report as JSON")


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9_.\-]+", requirement)
    return match.group(0) if match else requirement


def extras() -> dict[str, dict[str, Any]]:
    """Per optional extra of rewardkit: installed or not, and what is missing."""
    found: dict[str, list[str]] = {}
    try:
        requirements = importlib.metadata.requires("rewardkit") or []
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        requirements = []
    for requirement in requirements:
        marker = _EXTRA.search(requirement)
        if marker:
            found.setdefault(marker.group(1), []).append(_requirement_name(requirement))
    report = {}
    for extra, names in sorted(found.items()):
        missing = [name for name in names if _version(name) is None]
        report[extra] = {"installed": not missing, "missing": missing}
    return report


def _math_pool() -> dict[str, Any]:
    try:
        from rewardkit.verify.math import MathVerifier
        from rewardkit.verify.symbolic import default_pool_states

        start = time.monotonic()
        out = MathVerifier()({"completion": [r"so \boxed{\frac{1}{2}}"], "answer": ["0.5"]})
        seconds = time.monotonic() - start
    except Exception as exc:  # the report says what failed; doctor never crashes
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {
        "ok": bool(out.total[0] == 1.0),
        "first_job_seconds": round(seconds, 3),
        "pools": default_pool_states(),
    }


def _sandbox() -> dict[str, Any]:
    try:
        from rewardkit.verify.sandbox import Sandbox, sandbox_capabilities

        capabilities = sandbox_capabilities()
        report: dict[str, Any] = capabilities.as_dict() | {
            "complete": capabilities.complete,
            "report": capabilities.describe(),
        }
        if capabilities.complete:
            start = time.monotonic()
            result = Sandbox().run("print('hello')")
            report["trivial_run_seconds"] = round(time.monotonic() - start, 4)
            report["trivial_run_status"] = result.status
        return report
    except Exception as exc:
        return {"complete": False, "error": f"{type(exc).__name__}: {exc}"}


def diagnose() -> dict[str, Any]:
    """The whole report, as a JSON-ready dict."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {name: _version(name) for name in LIBRARIES},
        "extras": extras(),
        "math_pool": _math_pool(),
        "sandbox": _sandbox(),
    }


def render(report: dict[str, Any]) -> str:
    lines = [f"python    {report['python']} on {report['platform']}", "", "versions:"]
    for name, version in report["versions"].items():
        lines.append(f"  {name:24} {version or '-'}")
    lines += ["", "extras:"]
    for extra, state in report["extras"].items():
        missing = f"  (missing: {', '.join(state['missing'])})" if state["missing"] else ""
        lines.append(
            f"  {extra:10} {'installed' if state['installed'] else 'not installed'}{missing}"
        )
    pool = report["math_pool"]
    lines += ["", f"math worker pool: {'ok' if pool['ok'] else 'NOT OK'}"]
    if "error" in pool:
        lines.append(f"  error: {pool['error']}")
    else:
        lines.append(f"  first job (cold start included): {pool['first_job_seconds']} s")
        for key, state in pool["pools"].items():
            lines.append(f"  {key}: " + ", ".join(f"{k}={v}" for k, v in state.items()))
    sandbox = report["sandbox"]
    lines += [""]
    if "error" in sandbox:
        lines.append(f"sandbox: NOT OK: {sandbox['error']}")
    else:
        lines.append(sandbox["report"])
        if "trivial_run_seconds" in sandbox:
            lines.append(f"  a trivial program: {sandbox['trivial_run_seconds']} s")
        if not sandbox["complete"]:
            from rewardkit.verify.sandbox import HOW_TO_GET_FULL

            lines.append(f"  {HOW_TO_GET_FULL}")
    return "\n".join(lines)


def run_doctor(args: argparse.Namespace) -> int:
    report = diagnose()
    print(render(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    sandbox = report["sandbox"]
    healthy = (
        report["math_pool"]["ok"]
        and sandbox.get("complete", False)
        and sandbox.get("trivial_run_status") == "ok"
    )
    return 0 if healthy else 1
