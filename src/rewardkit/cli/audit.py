"""``rewardkit audit``: reward distances, probes and log replays from the command line."""

from __future__ import annotations

import argparse
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rewardkit.core.batch import read_jsonl, to_records
from rewardkit.core.errors import BatchError, SpecError
from rewardkit.core.output import format_table

__all__ = ["add_audit_parser", "run_audit"]


def add_audit_parser(commands: Any) -> None:
    audit = commands.add_parser("audit", help="reward distances, probes and hacking monitors")
    kinds = audit.add_subparsers(dest="audit_command", metavar="KIND")

    distance = kinds.add_parser(
        "distance", help="EPIC distance between two step rewards on a Gymnasium env"
    )
    distance.add_argument("spec_a", type=Path)
    distance.add_argument("spec_b", type=Path)
    distance.add_argument("--env", required=True, help="Gymnasium environment id")
    distance.add_argument("--steps", type=int, default=2000, help="transitions (random policy)")
    distance.add_argument("--gamma", type=float, default=0.99)
    distance.add_argument("--seed", type=int, default=0)
    distance.add_argument("--json", type=Path, default=None)

    probe = kinds.add_parser("probe", help="false-positive rates of exploit completions")
    probe.add_argument("spec", type=Path)
    probe.add_argument("--questions", type=Path, required=True, help="JSONL: question, answer")
    probe.add_argument("--threshold", type=float, default=0.5)
    probe.add_argument("--max-fpr", type=float, default=None, help="exit 1 above this rate")
    probe.add_argument("--json", type=Path, default=None)

    log = kinds.add_parser("log", help="replay a training log through the hacking monitors")
    log.add_argument("run", type=Path, help="log.jsonl, TRL trainer_state.json, or a folder")
    log.add_argument("--proxy-key", default="reward")
    log.add_argument("--gold-key", default=None)
    log.add_argument("--parts-prefix", default=None)
    log.add_argument("--fail-on-alert", action="store_true", help="exit 1 if any monitor fires")
    log.add_argument("--json", type=Path, default=None)


def _write(path: Path | None, kind: str, data: dict[str, Any]) -> None:
    if path is None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        path = Path("runs") / f"audit-{kind}-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {path}")


def _distance(args: argparse.Namespace) -> int:
    from rewardkit.audit.distance import epic_distance
    from rewardkit.core.spec import load_spec

    reward_a, reward_b = load_spec(args.spec_a), load_spec(args.spec_b)
    try:
        import gymnasium as gym
    except ImportError:
        raise BatchError(
            "audit distance needs gymnasium: pip install 'rewardkit[control]'"
        ) from None
    from rewardkit.adapters.gymnasium import collect_steps

    try:
        env = gym.make(args.env)
    except gym.error.Error as exc:
        raise BatchError(f"cannot make env {args.env!r}: {exc}") from None
    transitions = collect_steps(env, args.steps, seed=args.seed)
    estimate = epic_distance(reward_a, reward_b, transitions, gamma=args.gamma, seed=args.seed)
    print(
        format_table(
            ["reward A", "reward B", "EPIC", "95% CI", "transitions"],
            [
                [
                    reward_a.name,
                    reward_b.name,
                    f"{estimate.distance:.4f}",
                    f"[{estimate.low:.4f}, {estimate.high:.4f}]",
                    str(estimate.samples),
                ]
            ],
        )
    )
    _write(
        args.json,
        "distance",
        {
            "env": args.env,
            "spec_a": str(args.spec_a),
            "spec_b": str(args.spec_b),
            "gamma": args.gamma,
            "steps": args.steps,
            "seed": args.seed,
            "epic": {"distance": estimate.distance, "low": estimate.low, "high": estimate.high},
        },
    )
    return 0


def _probe(args: argparse.Namespace) -> int:
    from rewardkit.audit.probe import probe
    from rewardkit.core.spec import load_spec

    reward = load_spec(args.spec)
    questions = to_records(read_jsonl(args.questions))
    report = probe(reward, questions, threshold=args.threshold)
    print(f"{report.questions} questions, threshold {report.threshold:g}")
    print(report.table())
    _write(args.json, "probe", report.to_dict() | {"spec": str(args.spec)})
    if args.max_fpr is not None and math.isnan(report.max_fpr):
        print(f"rewardkit: audit failed: no probe was scored ({report.failed} samples not scored)")
        return 1
    if args.max_fpr is not None and report.max_fpr > args.max_fpr:
        print(f"rewardkit: audit failed: max false positive rate {report.max_fpr:.0%}")
        return 1
    return 0


def _log(args: argparse.Namespace) -> int:
    from rewardkit.audit.monitors import HackingMonitor, default_monitors
    from rewardkit.audit.training_log import read_training_log

    records = read_training_log(args.run)
    monitor = HackingMonitor(
        default_monitors(
            proxy_key=args.proxy_key, gold_key=args.gold_key, parts_prefix=args.parts_prefix
        )
    )
    alerts = monitor.replay(records)
    print(f"{len(records)} log records, {len(monitor.monitors)} monitors, {len(alerts)} alerts")
    if alerts:
        print(
            format_table(
                ["step", "monitor", "explanation"],
                [[str(a.step), a.monitor, a.message] for a in alerts],
            )
        )
    _write(
        args.json,
        "log",
        {
            "run": str(args.run),
            "records": len(records),
            "alerts": [
                {"step": a.step, "monitor": a.monitor, "message": a.message} for a in alerts
            ],
        },
    )
    return 1 if alerts and args.fail_on_alert else 0


def run_audit(args: argparse.Namespace) -> int:
    handlers = {"distance": _distance, "probe": _probe, "log": _log}
    if args.audit_command not in handlers:
        raise SpecError("choose an audit: distance, probe or log (see rewardkit audit --help)")
    return handlers[args.audit_command](args)
