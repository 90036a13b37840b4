"""``rewardkit bench``: the entry point the library's command line finds (group
``rewardkit.cli``, name ``bench``) when this distribution is installed."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rewardkit_bench.runner import SUITES, run_suite

__all__ = ["bench"]


def bench(suite: str | None, argv: Sequence[str]) -> int:
    """Run ``suite`` with its own arguments; without one, list the suites."""
    if not suite or suite in ("-h", "--help"):
        print("usage: rewardkit bench SUITE [options]\n\nsuites: " + ", ".join(sorted(SUITES)))
        return 0 if suite else 2
    if suite not in SUITES:
        print(
            f"rewardkit: error: unknown suite {suite!r}; choose from {sorted(SUITES)}",
            file=sys.stderr,
        )
        return 2
    return run_suite(suite, list(argv))
