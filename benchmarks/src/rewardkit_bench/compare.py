"""Compare two runs of the same suites figure by figure, timings aside.

``python -m rewardkit_bench.compare BEFORE AFTER SUITE...`` reads
``BEFORE/SUITE/results.json`` and ``AFTER/SUITE/results.json`` and prints, per
suite, how many values were compared and every one that differs. Fields whose
name says they measure time (seconds, ms, per_second, throughput, ETA, ...)
and the ``environment`` block are left out: a refactor must leave every other
figure as it was (same seeds).

Example:
    >>> differences({"a": 1.0, "seconds": 3.0}, {"a": 1.0, "seconds": 9.0})
    (1, [])
    >>> differences({"a": [1, 2]}, {"a": [1, 3]})
    (2, ['/a[1]: 2 vs 3'])
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["differences", "main"]

#: field names that measure time, and so may differ between two runs of the same figures
TIMING = re.compile(
    r"(second|time|wall|elapsed|throughput|_s$|_s_|^s$|ms_per|per_second|_ms$|"
    r"(^|_)eta($|_)|speed|duration|cost_ratio)",
    re.IGNORECASE,
)


def differences(before: Any, after: Any, path: str = "") -> tuple[int, list[str]]:
    """(values compared, differences) between two JSON values, timing fields aside."""
    key = path.rsplit("/", 1)[-1].split("[")[0]
    if TIMING.search(key) or path.startswith("/environment"):
        return 0, []
    if isinstance(before, dict) and isinstance(after, dict):
        found = (
            []
            if set(before) == set(after)
            else [f"{path}: keys {sorted(set(before) ^ set(after))}"]
        )
        compared = 0
        for name in sorted(set(before) & set(after), key=str):
            count, more = differences(before[name], after[name], f"{path}/{name}")
            compared, found = compared + count, found + more
        return compared, found
    if isinstance(before, list) and isinstance(after, list):
        found = (
            [] if len(before) == len(after) else [f"{path}: {len(before)} vs {len(after)} items"]
        )
        compared = 0
        for index, (left, right) in enumerate(zip(before, after, strict=False)):
            count, more = differences(left, right, f"{path}[{index}]")
            compared, found = compared + count, found + more
        return compared, found
    both_nan = isinstance(before, float) and isinstance(after, float)
    same = before == after or (both_nan and math.isnan(before) and math.isnan(after))
    return 1, [] if same else [f"{path}: {before!r} vs {after!r}"]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the comparison; exit 1 when a figure differs."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3:
        print("usage: python -m rewardkit_bench.compare BEFORE AFTER SUITE...", file=sys.stderr)
        return 2
    before, after, suites = Path(args[0]), Path(args[1]), args[2:]
    differing = 0
    for suite in suites:
        old = json.loads((before / suite / "results.json").read_text())
        new = json.loads((after / suite / "results.json").read_text())
        compared, found = differences(old, new)
        differing += len(found)
        print(f"{suite}: {compared} values compared, {len(found)} differ")
        for line in found[:40]:
            print(f"  {line}")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
