"""The suites' shared skeleton: the :class:`Suite` protocol and its driver, :func:`drive`.

A suite supplies only what differs: its options, its units of work and how
to run one, what goes into ``results.json``, the report and the plots.
:func:`drive` does the rest, the same way for every suite: it parses the
options (with the shared ``--quick``, ``--out`` and, where a suite takes
them, ``--seed``, ``--seeds``, ``--jobs``, ``--resume`` and ``--rerender``),
creates the run folder, runs the units (in a process pool when the suite
takes ``--jobs``), writes ``results.json``, ``report.md`` and the plots,
prints the report and returns the exit code.

The helpers the suites share live beside it and are importable from here too:
run folders and machine facts (:mod:`rewardkit_bench.run_folder`); markdown
tables, claim lines, percentiles, medians of curves and figures
(:mod:`rewardkit_bench.reporting`).
"""

from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from rewardkit.core.progress import eta_text, progress, write
from rewardkit_bench.reporting import (
    beyond_noise,
    claim_lines,
    latency_summary,
    markdown_table,
    median_curve,
    pyplot,
    reach_text,
    save_figure,
)
from rewardkit_bench.run_folder import RunFolder, environment, jsonable

__all__ = [
    "SHARED_OPTIONS",
    "SUITES",
    "RunFolder",
    "Suite",
    "beyond_noise",
    "build_parser",
    "claim_lines",
    "drive",
    "environment",
    "execute",
    "latency_summary",
    "markdown_table",
    "median_curve",
    "publish",
    "pyplot",
    "reach_text",
    "rerender",
    "run_suite",
    "save_figure",
]

#: suite name -> "module:function"; the function takes (argv) and returns an exit code
SUITES: dict[str, str] = {
    "verify-math": "rewardkit_bench.verify_math:main",
    "reward-hacking": "rewardkit_bench.reward_hacking:main",
    "grpo-lab": "rewardkit_bench.grpo_lab:main",
    "explore-minigrid": "rewardkit_bench.explore_minigrid:main",
    "novelty-maze": "rewardkit_bench.novelty_maze:main",
    "sandbox": "rewardkit_bench.sandbox:main",
    "rm-overoptimization": "rewardkit_bench.rm_overoptimization:main",
    "steer-lab": "rewardkit_bench.steer_lab:main",
    "steer-real": "rewardkit_bench.steer_real:main",
    "serve-load": "rewardkit_bench.serve_load:main",
    "delayed-credit": "rewardkit_bench.delayed_credit:main",
    "multiturn-credit": "rewardkit_bench.multiturn_credit:main",
    "adapter-throughput": "rewardkit_bench.adapter_throughput:main",
    "token-signals": "rewardkit_bench.token_signals:main",
    "code": "rewardkit_bench.code:main",
    "real-rm": "rewardkit_bench.real_rm:main",
    "trl-grpo": "rewardkit_bench.trl_grpo:main",
    "judge": "rewardkit_bench.judge:main",
    "rm-lab": "rewardkit_bench.rm_build:main",
    "grounding": "rewardkit_bench.grounding:main",
    "control-design": "rewardkit_bench.control_design:main",
}

#: the options suites share, by name: (flag, keyword arguments of ``add_argument``).
#: Every suite has ``--quick`` and ``--out``; :attr:`Suite.options` picks from these.
SHARED_OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "seed": ("--seed", {"type": int, "default": 0, "help": "random seed (default 0)"}),
    "seeds": ("--seeds", {"type": int, "default": 3, "help": "seeds per design (default 3)"}),
    "jobs": ("--jobs", {"type": int, "default": 1, "help": "runs in parallel processes"}),
    "resume": (
        "--resume",
        {
            "default": None,
            "metavar": "RUN_DIR",
            "help": "continue an interrupted run in RUN_DIR: keep the runs in its runs.jsonl, "
            "run the rest (same other options)",
        },
    ),
    "rerender": (
        "--rerender",
        {
            "default": None,
            "metavar": "RUN_DIR",
            "help": "rewrite the report and plots of a finished run from its results.json",
        },
    ),
}
#: shared options that must be at least 1
_POSITIVE = ("seeds", "jobs")
#: each pooled run is single-threaded, so ``--jobs N`` uses N cores: BLAS (numpy's matrix
#: products) is held to one thread through these variables, which spawned workers inherit
SINGLE_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

#: ``--ray`` without an address: ``RAY_ADDRESS`` if set, else a local Ray instance
LOCAL_RAY = "local"

#: the records of a resumable suite's finished runs, one JSON line each
RUNS_FILE = "runs.jsonl"

T = TypeVar("T")


def run_suite(name: str, argv: Sequence[str]) -> int:
    """Import and run suite ``name`` with its own arguments."""
    try:
        target = SUITES[name]
    except KeyError:
        raise SystemExit(
            f"rewardkit: error: unknown suite {name!r}; choose from {sorted(SUITES)}"
        ) from None
    module_name, function = target.split(":")
    main: Callable[[Sequence[str]], int] = getattr(importlib.import_module(module_name), function)
    return main(argv)


class Suite(ABC):
    """What one benchmark suite supplies to :func:`drive`; everything else is shared.

    A run is a list of *units* of work (a design on a task for a seed, say),
    each turned by :meth:`run_unit` into a JSON-able record. :meth:`plan`
    is asked again after each batch of units, so a later phase can depend on
    the records of an earlier one; it returns ``[]`` when all is done.
    ``results.json`` holds ``suite``, ``command``, ``seconds``, what
    :meth:`record` keeps and what :meth:`summarize` derives; the report and
    the plots are built from ``results.json`` alone, so ``--rerender`` can
    rebuild them.

    Example:
        >>> class Squares(Suite):
        ...     name = "squares"
        ...     def command(self, args): return "rewardkit bench squares"
        ...     def plan(self, args, runs): return [] if runs else [1, 2, 3]
        ...     def run_unit(self, unit): return {"n": unit, "square": unit * unit}
        ...     def record(self, args, runs): return {"runs": runs}
        ...     def report(self, results, plots):
        ...         rows = [[r["n"], r["square"]] for r in results["runs"]]
        ...         return markdown_table(["n", "n^2"], rows)
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as out:
        ...     drive(Squares(), ["--out", out])  # doctest: +ELLIPSIS
        squares: writing to ...
        | n | n^2 |
        |---|---|
        | 1 | 1 |
        | 2 | 4 |
        | 3 | 9 |
        wrote ...
        0
    """

    #: ``rewardkit bench NAME``; the run folder is ``runs/NAME-<time>``
    name: ClassVar[str] = ""
    #: the ``--help`` text (the suite module's docstring)
    description: ClassVar[str | None] = None
    #: the help of ``--quick``
    quick_help: ClassVar[str] = "a small run"
    #: options (argparse dests) that --quick fixes: setting one with --quick is an error
    quick_sets: ClassVar[tuple[str, ...]] = ()
    #: shared options the suite takes besides --quick and --out (keys of SHARED_OPTIONS)
    options: ClassVar[tuple[str, ...]] = ()

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        """Add the suite's own options to ``parser`` (the shared ones are there already)."""
        return None

    def check(self, args: argparse.Namespace) -> str | None:
        """An error message for options that are wrong or do not fit together, or None."""
        return None

    @abstractmethod
    def command(self, args: argparse.Namespace) -> str:
        """The command that regenerates this run (quoted in the report)."""

    def prepare(self, args: argparse.Namespace) -> None:
        """Work done once, before the first unit runs (a corpus, a cached model)."""
        return None

    @abstractmethod
    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Any]:
        """The units still to run, given the records of the runs finished so far."""

    @abstractmethod
    def run_unit(self, unit: Any) -> dict[str, Any]:
        """Run one unit and return its record. With ``--jobs`` it runs in a spawned
        process: units and the suite must then pickle (module-level classes do)."""

    def describe(self, run: dict[str, Any]) -> str | None:
        """A progress line for a finished run, or None to print none."""
        return None

    def on_result(self, folder: RunFolder, run: dict[str, Any]) -> None:
        """Called in the driver's process after each run, e.g. to save the run's log."""
        return None

    @abstractmethod
    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        """What ``results.json`` keeps of a run: its settings, machine and records."""

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        """Tables derived from ``results`` (merged into it; recomputed by ``--rerender``)."""
        return {}

    def plot(self, folder: RunFolder, results: dict[str, Any]) -> list[str]:
        """Save the figures of ``results`` in ``folder``; their file names."""
        return []

    @abstractmethod
    def report(self, results: dict[str, Any], plots: list[str]) -> str | None:
        """The markdown report of ``results``, or None to write no report."""


def build_parser(suite: Suite) -> argparse.ArgumentParser:
    """The suite's argument parser: the shared options it takes, then its own."""
    parser = argparse.ArgumentParser(
        prog=f"rewardkit bench {suite.name}", description=suite.description
    )
    parser.add_argument("--quick", action="store_true", help=suite.quick_help)
    parser.add_argument(
        "--out", default=None, help=f"run folder (default runs/{suite.name}-<time>)"
    )
    for option in suite.options:
        flag, settings = SHARED_OPTIONS[option]
        parser.add_argument(flag, **settings)
    if "jobs" in suite.options:  # runs that can go to a pool can go to a Ray cluster
        parser.add_argument(
            "--ray", nargs="?", const=LOCAL_RAY, default=None, metavar="ADDRESS",
            help="run the runs as Ray tasks: on a local Ray instance, or on the cluster at "
            "ADDRESS (auto, ray://HEAD:10001); needs the distributed extra",
        )  # fmt: skip
    suite.add_options(parser)
    return parser


def drive(suite: Suite, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run ``suite`` into its run folder, write and print its results.

    Returns:
        The exit code, 0. Bad options exit through ``argparse`` with a message.
    """
    parser = build_parser(suite)
    args = parser.parse_args(argv)
    if getattr(args, "rerender", None):
        return rerender(suite, args.rerender)
    problem = _usage_problem(suite, args, parser)
    if problem:
        parser.error(problem)
    folder, runs = _open_run(suite, args)
    print(f"{suite.name}: writing to {folder.path}", flush=True)
    start = time.monotonic()
    suite.prepare(args)
    _run_plan(suite, args, folder, runs, start)
    results = {"suite": suite.name, "command": suite.command(args), **suite.record(args, runs)}
    results["seconds"] = time.monotonic() - start
    publish(suite, folder, results)
    return 0


def rerender(suite: Suite, run_dir: str | Path) -> int:
    """Rebuild the derived tables, report and plots of a finished run from its results.json."""
    folder = RunFolder(Path(run_dir))
    source = folder.path / "results.json"
    if not source.is_file():
        raise SystemExit(f"--rerender: no results.json in {folder.path}")
    publish(suite, folder, json.loads(source.read_text()))
    return 0


def publish(suite: Suite, folder: RunFolder, results: dict[str, Any]) -> str | None:
    """Add the suite's summary to ``results``; write the plots, report.md and results.json."""
    results.update(suite.summarize(results))
    plots = suite.plot(folder, results)
    report = suite.report(results, plots)
    if report is not None:
        folder.write_text("report.md", report)
        print(report)
    folder.write_json("results.json", results)
    print(f"wrote {folder.path}")
    return report


def execute(
    function: Callable[[Any], dict[str, Any]], units: Sequence[Any], jobs: int | None
) -> Iterator[dict[str, Any]]:
    """``function`` over ``units``, in this process (``jobs`` None) or in a pool of
    ``jobs`` spawned processes; records in the order they finish."""
    if jobs is None:
        yield from map(function, units)
        return
    for variable in SINGLE_THREAD_ENV:
        os.environ.setdefault(variable, "1")
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        yield from pool.imap_unordered(function, units)


def _usage_problem(
    suite: Suite, args: argparse.Namespace, parser: argparse.ArgumentParser
) -> str | None:
    for option in _POSITIVE:
        if option in suite.options and getattr(args, option) < 1:
            return f"--{option} must be positive"
    if args.quick:
        ignored = [
            "--" + option.replace("_", "-")
            for option in suite.quick_sets
            if getattr(args, option, None) != parser.get_default(option)
        ]
        if ignored:
            return (
                f"--quick sets {', '.join(ignored)} itself ({suite.quick_help}); "
                "drop --quick to choose them"
            )
    return suite.check(args)


def _open_run(suite: Suite, args: argparse.Namespace) -> tuple[RunFolder, list[dict[str, Any]]]:
    resume = getattr(args, "resume", None)
    if not resume:
        return RunFolder.create(suite.name, args.out), []
    folder = RunFolder(Path(resume))
    partial = folder.path / RUNS_FILE
    if not partial.exists():
        raise SystemExit(f"--resume: no {RUNS_FILE} in {folder.path}")
    return folder, [json.loads(line) for line in partial.read_text().splitlines() if line.strip()]


def _run_plan(
    suite: Suite,
    args: argparse.Namespace,
    folder: RunFolder,
    runs: list[dict[str, Any]],
    start: float,
) -> None:
    jobs = getattr(args, "jobs", None)
    ray_address = getattr(args, "ray", None)
    previous: list[Any] = []
    while units := suite.plan(args, runs):
        if units == previous:
            raise RuntimeError(f"{suite.name}: plan() returned units that already ran")
        previous, total = units, len(runs) + len(units)
        done = f"; {len(runs)} already done" if runs else ""
        if ray_address is not None:
            from rewardkit.distributed.suites import run_on_ray

            print(f"{len(units)} runs as Ray tasks{done}", flush=True)
            address = None if ray_address == LOCAL_RAY else ray_address
            outcomes: Iterator[dict[str, Any]] = run_on_ray(suite.run_unit, units, address)
        else:
            if jobs is not None:
                print(f"{len(units)} runs with {jobs} job(s){done}", flush=True)
            outcomes = execute(suite.run_unit, units, jobs)
        batch_start, done_before = time.monotonic(), len(runs)
        results = progress(outcomes, suite.name, total=len(units))
        for run in results:
            runs.append(run)
            if "resume" in suite.options:  # one line per run, so a crash loses no run
                with (folder.path / RUNS_FILE).open("a") as partial:
                    partial.write(json.dumps(jsonable(run)) + "\n")
            suite.on_result(folder, run)
            line = suite.describe(run)
            if line:
                elapsed = time.monotonic() - start
                eta = eta_text(time.monotonic() - batch_start, len(runs) - done_before, len(units))
                write(f"  [{len(runs)}/{total}] {line} ({elapsed:,.0f}s, {eta})")
