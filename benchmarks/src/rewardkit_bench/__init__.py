"""Benchmark suites, run by ``rewardkit bench SUITE``.

Each suite writes ``runs/<suite>-<time>/`` with ``results.json`` and
``report.md`` (and plots where it has curves), prints its table, and compares
against a peer in the same run.
"""

from rewardkit_bench.runner import SUITES, run_suite

__all__ = ["SUITES", "run_suite"]
