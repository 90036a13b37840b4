"""Where a suite's run goes: its folder (:class:`RunFolder`), JSON that any record turns into,
and the machine facts recorded next to every result."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["RunFolder", "environment", "jsonable"]


@dataclass
class RunFolder:
    """``runs/<suite>-<time>/`` (or an explicit folder) with the files a suite writes;
    ``runs`` is ``$REWARDKIT_RUNS`` where that is set, else ``runs`` under the current
    directory."""

    path: Path

    @classmethod
    def create(cls, suite: str, out: str | Path | None = None) -> RunFolder:
        if out is None:
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            path = Path(os.environ.get("REWARDKIT_RUNS") or "runs") / f"{suite}-{stamp}"
        else:
            path = Path(out)
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    def write_json(self, name: str, data: Any) -> Path:
        target = self.path / name
        target.write_text(json.dumps(jsonable(data), indent=2, sort_keys=False) + "\n")
        return target

    def write_text(self, name: str, text: str) -> Path:
        target = self.path / name
        target.write_text(text)
        return target


def environment() -> dict[str, Any]:
    """Machine facts recorded next to every result."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "time_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def jsonable(value: Any) -> Any:
    """``value`` as JSON holds it: string keys, lists for tuples, None for NaN and infinities,
    Python scalars for numpy's.

    Example:
        >>> jsonable({1: (0.5, float("nan"))})
        {'1': [0.5, None]}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return value
