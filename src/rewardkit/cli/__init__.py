"""The ``rewardkit`` command.

Exit codes: 0 success; 1 the reward failed a hard check; 2 bad usage or bad
input files (one-line message, no traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from rewardkit.core.errors import RewardCheckError, RewardKitError, RewardKitWarning

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _version() -> str:
    from rewardkit import __version__

    return __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rewardkit",
        description="rewardkit: composable, checked rewards for reinforcement learning.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"rewardkit {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("version", help="print the installed version")
    check = commands.add_parser(
        "check",
        help="run a reward spec on a JSONL batch and print a per-term table",
        description="Build the reward declared in SPEC (TOML/YAML/JSON), run it on the "
        "samples in --batch (one JSON object per line) and check the output.",
    )
    check.add_argument("spec", type=Path, help="reward spec file (.toml, .yaml, .yml, .json)")
    check.add_argument("--batch", type=Path, required=True, help="JSONL file, one sample a line")
    check.add_argument("--json", type=Path, default=None, help="also write the report as JSON")
    check.add_argument(
        "--group-column", default="group", help="column of group ids (default: group)"
    )
    commands.add_parser("terms", help="list the registered term names")
    from rewardkit.cli.audit import add_audit_parser

    add_audit_parser(commands)
    from rewardkit.cli.doctor import add_doctor_parser

    add_doctor_parser(commands)
    from rewardkit.cli.steer import add_steer_parser

    add_steer_parser(commands)
    from rewardkit.cli.serve import add_serve_parser

    add_serve_parser(commands)
    bench = commands.add_parser(
        "bench",
        help="run a benchmark suite (see `rewardkit bench SUITE --help`)",
        add_help=False,
    )
    bench.add_argument("suite", nargs="?", help="suite name")
    bench.add_argument("suite_args", nargs=argparse.REMAINDER)
    return parser


def _check(args: argparse.Namespace) -> int:
    from rewardkit.audit.check import check_reward
    from rewardkit.core.batch import read_jsonl
    from rewardkit.core.spec import load_spec

    reward = load_spec(args.spec)
    batch = read_jsonl(args.batch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RewardKitWarning)  # reported in the table instead
        report = check_reward(reward, batch, group_column=args.group_column)
    print(f"reward {report.name!r} on {len(report.output)} samples from {args.batch}")
    print(report.table())
    for message in report.warnings:
        print(f"warning: {message}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.to_dict(), indent=2, allow_nan=True) + "\n")
        print(f"wrote {args.json}")
    return EXIT_OK


def _terms() -> int:
    from rewardkit.core.registry import REGISTRY

    for name in REGISTRY.names():
        entry = REGISTRY.entry(name)
        params = ", ".join(entry.parameters())
        print(f"{name:16} ({params})  {entry.summary}")
    return EXIT_OK


#: where ``rewardkit bench`` finds the benchmarks: an entry point of this group named
#: "bench", ``(suite, argv) -> exit code``, which the benchmarks distribution installs
BENCH_ENTRY_POINTS = "rewardkit.cli"


def _bench(args: argparse.Namespace) -> int:
    from importlib.metadata import entry_points

    found = [e for e in entry_points(group=BENCH_ENTRY_POINTS) if e.name == "bench"]
    if not found:
        print(
            "rewardkit: error: the benchmarks are not installed; they are their own "
            "distribution in the repository: `pip install -e benchmarks` from a checkout "
            "(`make install` does it)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    run: Callable[[str | None, Sequence[str]], int] = found[0].load()
    return run(args.suite, args.suite_args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["bench"]:  # the suite parses its own options, --help included
        suite = arguments[1] if len(arguments) > 1 else None
        args = argparse.Namespace(command="bench", suite=suite, suite_args=arguments[2:])
    else:
        args = parser.parse_args(arguments)
    try:
        if args.command == "version":
            print(_version())
            return EXIT_OK
        if args.command == "check":
            return _check(args)
        if args.command == "terms":
            return _terms()
        if args.command == "bench":
            return _bench(args)
        if args.command == "doctor":
            from rewardkit.cli.doctor import run_doctor

            return run_doctor(args)
        if args.command == "audit":
            from rewardkit.cli.audit import run_audit

            return run_audit(args)
        if args.command == "steer":
            from rewardkit.cli.steer import run_steer

            return run_steer(args)
        if args.command == "serve":
            from rewardkit.cli.serve import run_serve

            return run_serve(args)
        parser.print_help()
        return EXIT_USAGE
    except RewardCheckError as exc:
        print(f"rewardkit: check failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except RewardKitError as exc:  # a bad spec, batch, setting, model or missing sandbox
        print(f"rewardkit: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
