"""``rewardkit bench judge``: rewardkit's LLM judges against a real server on this machine.

The suite starts ``transformers serve`` with SmolLM2-135M-Instruct itself
(:class:`rewardkit.lm.serving.LocalServer`, offline, on a loopback port) and stops it at
the end; the data are SmolLM2's own answers to reasoning-gym arithmetic (the corpus in
``benchmarks/corpora/smollm2-arithmetic.jsonl``, labelled by reasoning-gym). Units:

- ``speed`` (per seed): ReferenceJudge (text, 8 tokens) judgments/s and p50/p99 latency at
  ``max_concurrency`` 1, 4 and 16, each over a plain sequential loop on ``openai.OpenAI``
  with the same prompts and parameters in the same run; the disk cache's speed-up
  (:mod:`rewardkit_bench.judge_speed`); in the full run, a second row on a server started
  with ``--continuous-batching`` (the loop against the judge at 16);
- ``faults`` (per seed): the server killed under a batch in flight and restarted: no
  sample scored by a failure, none lost; the batch scored after the restart
  (:mod:`rewardkit_bench.judge_faults`);
- ``agreement``, ``probes``, ``position`` (once: temperature 0): agreement with the labels
  (text and systemone P(yes)), the judge behind a verifier, master-key false-positive rates
  before and after the final-answer mitigation, and position bias with and without the
  order swap (:mod:`rewardkit_bench.judge_quality`, :mod:`rewardkit.audit.judge`);
- ``authoring``, the hook for the section **LLM-written rewards**: where a module
  ``rewardkit_bench.judge_authoring`` exists, its ``run(...) -> dict`` is the last unit of
  this suite, called with those of ``server`` (this suite's server; without it the suite
  stops its servers first), ``rows`` (the corpus), ``quick``, ``seed`` (0) and ``out_dir``
  (the run folder) that it takes; the dict it returns goes into ``results.json`` (kind
  ``authoring``), and its ``render(record) -> str``, where it has one, writes the report's
  section (else the record is shown as JSON). Without the module the unit and the section
  are skipped.

Figures are medians over ``--seeds`` where seeds apply. Full run: about 13 minutes on two
idle cores (planned from the quick run's per-call times); ``--quick``: under 2. Another
heavy job on the same cores slows every call (and the figures) several times over.

Run: ``rewardkit bench judge`` (``--quick``: small batches, one seed, no second server).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any, ClassVar

from rewardkit.core.progress import eta_text
from rewardkit_bench.runner import RunFolder, Suite, drive, environment

__all__ = ["HOOK_MODULE", "QUICK", "SIZES", "JudgeBench", "main", "unit_cost"]

#: the module whose results fill the report's "LLM-written rewards" section, where it exists
HOOK_MODULE = "rewardkit_bench.judge_authoring"
#: the full run's sizes (each an option), and --quick's
SIZES = {"batch": 24, "fault_batch": 24, "rows": 200, "unclear": 40, "questions": 6, "pairs": 30}
QUICK = {"batch": 8, "fault_batch": 12, "rows": 16, "unclear": 4, "questions": 1, "pairs": 6}
#: the continuous-batching server's arms: the loop, and the judge at these concurrencies
CONTINUOUS_CONCURRENCY = (16,)
_MODULE_DOC = __doc__
MODES = {"default": (), "continuous": ("--continuous-batching",)}


def authoring_module() -> ModuleType | None:
    """:data:`HOOK_MODULE`, or None where it does not exist (yet)."""
    try:
        return importlib.import_module(HOOK_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name == HOOK_MODULE:
            return None
        raise


def unit_cost(unit: tuple[Any, ...], sizes: dict[str, int]) -> float:
    """A unit's planned work for the ETA, in text judgments (about 0.45 s each on two idle
    cores): a pairwise call with two responses costs more, a server start 20 (60 for the
    continuous-batching one, slower to start and to answer).

    Example:
        >>> unit_cost(("speed", "default", 0), QUICK)
        42
    """
    kind = unit[0]
    if kind == "speed" and unit[1] != "default":
        return int(3.5 * sizes["batch"]) + (60 if unit[2] == 0 else 0)
    costs = {
        "agreement": int(1.9 * sizes["rows"]) + sizes["unclear"] + 20,
        "probes": 36 * sizes["questions"],
        "position": int(7.5 * sizes["pairs"]),  # two prompts, two orders, longer prompts
        "speed": 5 * sizes["batch"] + 2,
        "faults": 2 * sizes["fault_batch"] + 25,
        "authoring": 50,
    }
    return costs[kind]


def _key(run: dict[str, Any]) -> tuple[Any, ...]:
    if run["kind"] == "speed":
        return ("speed", run["mode"], run["seed"])
    return (run["kind"], run.get("seed", 0))


class JudgeBench(Suite):
    """The judge suite (see the module docs)."""

    name: ClassVar[str] = "judge"
    description: ClassVar[str | None] = _MODULE_DOC
    quick_help: ClassVar[str] = (
        f"one seed; speed batch {QUICK['batch']}, fault batch {QUICK['fault_batch']}, "
        f"{QUICK['rows']} labelled rows, {QUICK['questions']} probe question(s), "
        f"{QUICK['pairs']} pairs; no continuous-batching server"
    )
    quick_sets: ClassVar[tuple[str, ...]] = ("seeds", *SIZES, "no_continuous_batching")
    options: ClassVar[tuple[str, ...]] = ("seeds", "resume", "rerender")

    def __init__(self) -> None:
        self.args: argparse.Namespace | None = None
        self.rows: list[dict[str, Any]] = []
        self.servers: dict[str, Any] = {}
        self.logs = tempfile.TemporaryDirectory(prefix="rewardkit-judge-bench-")
        self.planned = 0.0
        self.done = 0.0
        self.started = time.monotonic()
        self.start_seconds: dict[str, float] = {}
        self.folder: Path | None = None

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--corpus", default=None, help="the SmolLM2 corpus (as real-rm)")
        helps = {"batch": "rows per speed run", "fault_batch": "rows per fault run",
                 "rows": "labelled rows judged for agreement", "unclear": "unlabelled rows "
                 "behind the corpus rule", "questions": "probe questions",
                 "pairs": "(right, wrong) pairs for position bias"}  # fmt: skip
        for option, default in SIZES.items():
            parser.add_argument("--" + option.replace("_", "-"), type=int, default=default,
                                help=f"{helps[option]} (default {default})")  # fmt: skip
        parser.add_argument(
            "--no-continuous-batching",
            action="store_true",
            help="skip the second speed row on a --continuous-batching server",
        )

    def check(self, args: argparse.Namespace) -> str | None:
        small = [o for o in SIZES if getattr(args, o) < 1]
        return f"--{small[0].replace('_', '-')} must be at least 1" if small else None

    def sizes(self, args: argparse.Namespace) -> dict[str, int]:
        return dict(QUICK) if args.quick else {o: int(getattr(args, o)) for o in SIZES}

    def command(self, args: argparse.Namespace) -> str:
        if args.quick:
            return "rewardkit bench judge --quick"
        changed = [f"--{o.replace('_', '-')} {getattr(args, o)}" for o, d in SIZES.items()
                   if getattr(args, o) != d]  # fmt: skip
        extra = " --no-continuous-batching" if args.no_continuous_batching else ""
        return " ".join(["rewardkit bench judge --seeds", str(args.seeds), *changed]) + extra

    def prepare(self, args: argparse.Namespace) -> None:
        from rewardkit_bench.judge_data import load_rows

        self.args = args
        self.rows = load_rows(args.corpus)
        if getattr(args, "resume", None):
            self.folder = Path(args.resume)
        self.started = time.monotonic()

    # -- the servers ---------------------------------------------------------------------------
    def server(self, mode: str) -> Any:
        """The ``mode`` server, started on first use; a server of another mode is stopped."""
        from rewardkit.lm.serving import LocalServer

        for other in [m for m in self.servers if m != mode]:
            self.servers.pop(other).stop()
        if mode not in self.servers:
            log = Path(self.logs.name) / f"server-{mode}.log"
            server = LocalServer("smollm2-135m-instruct", log_path=log, extra_args=MODES[mode])
            start = time.monotonic()
            try:
                server.start()
            except (RuntimeError, TimeoutError) as exc:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(
                    f"transformers serve ({mode}) did not start: {exc}\n{tail}"
                ) from exc
            self.start_seconds[mode] = time.monotonic() - start
            self.servers[mode] = server
        return self.servers[mode]

    def close(self) -> None:
        """Stop every server this suite started."""
        for mode in list(self.servers):
            self.servers.pop(mode).stop()

    # -- units ---------------------------------------------------------------------------------
    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Any]:
        sizes = self.sizes(args)
        for run in runs:
            if run.get("sizes", sizes) != sizes:
                raise SystemExit(f"judge --resume: the run was made with {run['sizes']}; the "
                                 f"options now give {sizes}")  # fmt: skip
        seeds = 1 if args.quick else args.seeds
        wanted: list[tuple[Any, ...]] = [("agreement", 0), ("probes", 0), ("position", 0)]
        wanted += [("speed", "default", s) for s in range(seeds)]
        wanted += [("faults", s) for s in range(seeds)]
        if not (args.quick or args.no_continuous_batching):
            wanted += [("speed", "continuous", s) for s in range(seeds)]
        if authoring_module() is not None:
            wanted.append(("authoring", 0))
        done = {_key(run) for run in runs}
        units = [unit for unit in wanted if unit not in done]
        self.planned = float(sum(unit_cost(u, sizes) for u in units))
        return units

    def run_unit(self, unit: Any) -> dict[str, Any]:
        from rewardkit_bench import judge_faults, judge_quality, judge_speed

        assert self.args is not None
        sizes, kind = self.sizes(self.args), unit[0]
        mode = unit[1] if kind == "speed" else "default"
        fresh = mode not in self.servers and kind != "authoring"
        server = None if kind == "authoring" else self.server(mode)
        if kind == "agreement":
            record = judge_quality.run_agreement(server, self.rows, sizes["rows"], sizes["unclear"])
        elif kind == "probes":
            record = judge_quality.run_probes(server, self.rows, sizes["questions"])
        elif kind == "position":
            record = judge_quality.run_position(server, self.rows, sizes["pairs"])
        elif kind == "speed":
            default = mode == "default"
            concurrency = judge_speed.CONCURRENCY if default else CONTINUOUS_CONCURRENCY
            record = judge_speed.run_speed(
                server, self.rows, sizes["batch"], unit[2], mode, concurrency, cache=default
            )
        elif kind == "faults":
            record = judge_faults.run_faults(server, self.rows, sizes["fault_batch"], unit[1])
        else:
            record = {"kind": "authoring", **self._authoring()}
        record["sizes"] = sizes
        if fresh:
            record["server_start_s"] = self.start_seconds[mode]
        self.done += unit_cost(unit, sizes)
        return record

    def _authoring(self) -> dict[str, Any]:
        """The hook's run, with the arguments its ``run`` takes (see the module docs)."""
        hook = authoring_module()
        assert hook is not None and self.args is not None
        taken = inspect.signature(hook.run).parameters
        if "server" not in taken:
            self.close()  # its own server: not two on two cores
        offered = {"rows": self.rows, "quick": bool(self.args.quick), "seed": 0,
                   "out_dir": self.folder or Path(self.logs.name)}  # fmt: skip
        if "server" in taken:
            offered["server"] = self.server("default")
        found: dict[str, Any] = hook.run(**{k: v for k, v in offered.items() if k in taken})
        return found

    def on_result(self, folder: RunFolder, run: dict[str, Any]) -> None:
        self.folder = folder.path

    def describe(self, run: dict[str, Any]) -> str | None:
        elapsed = time.monotonic() - self.started
        left = eta_text(elapsed, max(int(self.done), 1), max(int(self.planned), 1))
        done, planned = int(self.done), int(self.planned)
        return f"{_describe(run)} [{done}/{planned} planned judge calls: {left}]"

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        from rewardkit_bench.judge_data import MAX_TOKENS

        self.close()
        return {"quick": bool(args.quick), "seeds": 1 if args.quick else args.seeds,
                "settings": {**self.sizes(args), "max_tokens": MAX_TOKENS},
                "machine": environment(), "runs": runs}  # fmt: skip

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        from rewardkit_bench.judge_report import summarize

        return summarize(results)

    def plot(self, folder: RunFolder, results: dict[str, Any]) -> list[str]:
        from rewardkit_bench.judge_report import plot

        return plot(folder, results)

    def report(self, results: dict[str, Any], plots: list[str]) -> str | None:
        from rewardkit_bench.judge_report import render

        hook = authoring_module()
        text = render(results, getattr(hook, "render", None))
        return text + "".join(f"\n![{name}]({name})\n" for name in plots)


def _describe(run: dict[str, Any]) -> str:
    kind = run["kind"]
    if kind == "speed":
        arms = ", ".join(f"x{c} {f['ratio']:.2f}x" for c, f in run["judge"].items())
        return (f"speed ({run['mode']}) seed {run['seed']}: sequential "
                f"{run['sequential']['per_s']:.2f}/s; judge {arms}")  # fmt: skip
    if kind == "faults":
        d = run["during"]
        return (f"faults seed {run['seed']}: {d['scored']} scored, {d['failed']} failed, "
                f"{d['scored_by_failure']} scored by a failure, {d['lost']} lost; after "
                f"restart {run['after']['scored']}/{run['batch']} scored")  # fmt: skip
    if kind == "agreement":
        return (f"agreement on {run['rows']} rows: text accuracy {_pct(run['text']['accuracy'])}, "
                f"systemone AUC {run['systemone']['auc']:.2f}")  # fmt: skip
    if kind == "probes":
        return _describe_probes(run)
    if kind == "position":
        return "position: " + "; ".join(
            f"{name.split(' (')[0]}: A picked {_pct(r['first_position'])}, position decided "
            f"{_pct(r['position_decided'])} of {r['judged']} judged pairs"
            for name, r in run["prompts"].items()
        )
    return "LLM-written rewards"


def _pct(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value:.0%}"


def _describe_probes(run: dict[str, Any]) -> str:
    worst = ", ".join(f"{k} {_pct(r['max_fpr'])}" for k, r in run["reports"].items())
    return f"probes on {run['questions']} question(s), worst probe: {worst}"


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench judge``: see the module docs. The servers stop however it ends."""
    suite = JudgeBench()
    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        return drive(suite, argv)
    finally:
        suite.close()
        suite.logs.cleanup()
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
