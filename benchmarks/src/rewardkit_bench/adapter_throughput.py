"""``rewardkit bench adapter-throughput``: OpenRLHF's one-sample calls, served together.

OpenRLHF 0.11 calls the reward file once per sample, every sample of a
rollout at once, each in a thread of its event loop
(``asyncio.to_thread(reward_func, [query], [prompt], [label])``,
``openrlhf/utils/agent.py``). This suite makes those 64 calls, in that
pattern, against :class:`~rewardkit.adapters.openrlhf.OpenRLHFReward`:

- **serial**: the 64 calls one after another (the peer: OpenRLHF's rate when
  calls are served one at a time);
- **concurrent, one by one**: the 64 calls at once, each scored on its own
  (``coalesce=False``; the math workers serve one call at a time, as before);
- **concurrent, coalesced**: the 64 calls at once, the waiting ones scored
  together (the default);
- **coalesced, 32 threads**: the same with the 32-thread executor that
  ``asyncio`` gives a machine of 28 cores or more. On 2 cores its default
  executor has ``min(32, cpus + 4) = 6`` threads, so at most 6 calls are in
  flight and a coalesced batch holds at most 6 samples.

Three workloads, each 64 samples: ``cheap`` (``examples/math_reward.toml``:
exact match, a format regex, a length term, all in process), ``symbolic``
(the math verifier with answers that need its worker processes) and
``timeouts`` (the same with 11 answers that time out after 1 s, the issue's
case). The figure is samples per second, median over ``--seeds``, and the
ratio to serial. Target: coalesced ≥ 8x serial at 64 concurrent calls.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import tomllib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rewardkit_bench.runner import Suite, drive, environment, markdown_table

__all__ = ["main"]

#: the cheap workload: examples/math_reward.toml's reward (exact match, format, brevity on
#: correct answers), kept here so the suite runs outside a checkout
CHEAP_SPEC = """name = "math_reward"
[[sum]]
term = "exact_match"
name = "correct"
extract = '<answer>(.*?)</answer>'
[[sum]]
term = "regex_match"
name = "format"
weight = 0.2
pattern = '<think>.+?</think>\\s*<answer>.+?</answer>'
[[sum]]
name = "brevity"
weight = 0.1
otherwise = 0.0
conditional = { term = "exact_match", name = "is_correct", extract = '<answer>(.*?)</answer>' }
then = { term = "length_linear", max_length = 200 }
"""

CALLS = 64
MODES = ("serial", "concurrent_one_by_one", "concurrent_coalesced", "coalesced_32_threads")
WORKLOADS = ("cheap", "symbolic", "timeouts")
TARGET_RATIO = 8.0
PROMPT = "<|im_start|>user\nWhat is 3+4?<|im_end|>\n<|im_start|>assistant\n"
SLOW = r"\boxed{\prod_{k=1}^{100000} (1+1/k)^{k}}"  # math-verify needs over 1 s


def _answers(workload: str) -> list[str]:
    if workload == "cheap":
        base = ["<think>3+4</think><answer>7</answer>", "<think>hm</think><answer>8</answer>",
                "no idea", "<answer>7</answer>"]  # fmt: skip
        return [base[i % 4] for i in range(CALLS)]
    symbolic = [rf"\boxed{{\frac{{{14 + i}}}{{2}}}}" for i in range(CALLS)]
    if workload == "timeouts":
        for i in range(11):
            symbolic[i * 5] = SLOW
    return symbolic


def _reward(workload: str, coalesce: bool) -> Any:
    from rewardkit.adapters.openrlhf import OpenRLHFReward
    from rewardkit.core import build_reward
    from rewardkit.verify import MathVerifier

    if workload == "cheap":
        term: Any = build_reward(tomllib.loads(CHEAP_SPEC))
    else:
        term = MathVerifier(timeout=1.0, name="correct")
    return OpenRLHFReward(term, coalesce=coalesce)


def measure(workload: str, mode: str) -> dict[str, Any]:
    """64 calls in OpenRLHF's pattern; samples per second and how many scored."""
    reward = _reward(workload, coalesce=mode in ("concurrent_coalesced", "coalesced_32_threads"))
    reward([PROMPT + "<answer>7</answer>"], [PROMPT], ["7"])  # warm: spec, workers
    queries = [PROMPT + a + "<|im_end|>" for a in _answers(workload)]

    async def rollout() -> list[Any]:
        if mode == "coalesced_32_threads":
            asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(32))
        calls = [asyncio.to_thread(reward, [q], [PROMPT], ["7"]) for q in queries]
        return await asyncio.gather(*calls)

    start = time.perf_counter()
    if mode == "serial":
        results = [reward([q], [PROMPT], ["7"]) for q in queries]
    else:
        results = asyncio.run(rollout())
    seconds = time.perf_counter() - start
    timeouts = sum(int(r["extra_logs"]["timeout"].sum()) for r in results)
    batches = getattr(reward._coalescer, "batches", None)
    return {"seconds": seconds, "per_second": CALLS / seconds, "timeouts": timeouts,
            "term_calls": batches if batches is not None else CALLS}  # fmt: skip


class AdapterThroughput(Suite):
    name = "adapter-throughput"
    description = __doc__
    quick_help = "one seed of the cheap and symbolic workloads"
    quick_sets = ("seeds",)
    options = ("seeds", "rerender")

    def command(self, args: argparse.Namespace) -> str:
        return "rewardkit bench adapter-throughput" + (" --quick" if args.quick else "")

    def plan(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> list[Any]:
        if runs:
            return []
        seeds = 1 if args.quick else args.seeds
        workloads = WORKLOADS[:2] if args.quick else WORKLOADS
        return [(w, m, s) for s in range(seeds) for w in workloads for m in MODES]

    def run_unit(self, unit: Any) -> dict[str, Any]:
        workload, mode, seed = unit
        return {"workload": workload, "mode": mode, "seed": seed, **measure(workload, mode)}

    def describe(self, run: dict[str, Any]) -> str | None:
        return f"{run['workload']:9s} {run['mode']:22s} {run['per_second']:8.1f} samples/s"

    def record(self, args: argparse.Namespace, runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"calls": CALLS, "environment": environment(), "runs": runs}

    def summarize(self, results: dict[str, Any]) -> dict[str, Any]:
        table: dict[str, dict[str, Any]] = {}
        for workload in WORKLOADS:
            rates = {}
            for mode in MODES:
                mine = [
                    r for r in results["runs"] if (r["workload"], r["mode"]) == (workload, mode)
                ]
                if mine:
                    rates[mode] = statistics.median(r["per_second"] for r in mine)
            if "serial" in rates:
                ratios = {m: rates[m] / rates["serial"] for m in rates}
                table[workload] = {"per_second": rates, "ratio_to_serial": ratios}
        coalesced = {w: t["ratio_to_serial"].get("concurrent_coalesced") for w, t in table.items()}
        return {"table": table, "target": {"ratio": TARGET_RATIO, "coalesced": coalesced}}

    def report(self, results: dict[str, Any], plots: list[str]) -> str | None:
        rows = []
        for workload, row in results["table"].items():
            for mode, rate in row["per_second"].items():
                ratio = row["ratio_to_serial"][mode]
                met = ""
                if mode.startswith(("concurrent_coalesced", "coalesced")):
                    met = "met" if ratio >= TARGET_RATIO else "**missed**"
                rows.append([workload, mode, f"{rate:.1f}", f"{ratio:.2f}x", met])
        seeds = len({r["seed"] for r in results["runs"]})
        head = [
            "# OpenRLHF's one-sample calls: serial, concurrent, coalesced",
            "",
            f"Command: `{results['command']}` ({results['seconds']:.0f} s; "
            f"{results['environment']['cpus']} CPUs; {CALLS} calls; medians over {seeds} "
            "seed(s)). Peer: the same calls served one after another.",
            "",
        ]
        header = ["workload", "mode", "samples/s", "vs serial", f"target ≥ {TARGET_RATIO:.0f}x"]
        return "\n".join(head) + "\n" + markdown_table(header, rows) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``rewardkit bench adapter-throughput``: see the module docs."""
    return drive(AdapterThroughput(), argv)
