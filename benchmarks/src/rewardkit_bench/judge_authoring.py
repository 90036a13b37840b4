"""The "LLM-written rewards" unit of ``rewardkit bench judge``: every loop, end to end.

:func:`run` runs the five loops of :mod:`rewardkit.author` against SmolLM2 served by
``transformers serve`` (each module starts its own server; each loop's module says
what of its paper is missing):

- :func:`rewardkit_bench.judge_authoring_params.run_param_loops`: L2R-style parameter
  filling (Pendulum-v1), CALM-style subgoals and ONI-style asynchronous labels (MiniGrid
  DoorKey-5x5);
- :func:`rewardkit_bench.judge_authoring_code.run_code_loops`: an Auto MC-Reward-style
  designer, critic and analyser writing reward code run in the sandbox, and LaRe's
  latent-factor encoder written by the model with its self-check (CartPole-v1).

A loop that raises is recorded with its error, not dropped; :func:`render` writes the
report's section from what each loop returned.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["render", "run"]

#: the keys of the record, in report order, and the function that fills each
GROUPS: dict[str, str] = {
    "parameters, subgoals, labels": "rewardkit_bench.judge_authoring_params:run_param_loops",
    "reward code, latent factors": "rewardkit_bench.judge_authoring_code:run_code_loops",
}


def _resolve(path: str) -> Callable[..., dict[str, Any]]:
    import importlib

    module, name = path.split(":")
    found: Callable[..., dict[str, Any]] = getattr(importlib.import_module(module), name)
    return found


def run(quick: bool, seed: int, out_dir: Path) -> dict[str, Any]:
    """Every loop group's result (or its error), and the seconds each took."""
    record: dict[str, Any] = {}
    for group, path in GROUPS.items():
        folder = Path(out_dir) / "authoring" / group.split(",")[0].replace(" ", "-")
        folder.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        try:
            found = _resolve(path)(quick=quick, seed=seed, out_dir=folder)
        except Exception as exc:  # a loop that breaks is a result to report, not a crash
            found = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
        found["wall_seconds"] = time.monotonic() - started
        record[group] = json.loads(json.dumps(found, default=str))
    return record


def _leaves(value: Any, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, str]]:
    """(dotted key, short text) for the scalars of a nested record, three levels deep."""
    if isinstance(value, dict):
        if depth >= 4:
            return
        for key, inner in value.items():
            if key in ("trace", "kind"):
                continue
            yield from _leaves(inner, f"{prefix}.{key}" if prefix else str(key), depth + 1)
    elif isinstance(value, list):
        if value and all(not isinstance(v, dict | list) for v in value) and len(value) <= 12:
            yield prefix, ", ".join(_short(v) for v in value)
        else:
            yield prefix, f"[{len(value)} items in results.json]"
    else:
        yield prefix, _short(value)


def _short(value: Any, limit: int = 140) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render(record: dict[str, Any]) -> str:
    """The report section: each loop group's figures as a table (details in results.json)."""
    lines = [
        "Data: SmolLM2-135M-Instruct's own outputs as an author, on lab tasks as their packages "
        "ship them (Gymnasium Pendulum-v1 and CartPole-v1, MiniGrid DoorKey-5x5); one seed. "
        "With a 135M model most of what it writes fails: that is the result.",
        "",
    ]
    for group in GROUPS:
        found = record.get(group)
        if not isinstance(found, dict):
            continue
        lines += [f"### {group}", ""]
        if "error" in found:
            lines += [f"The loop raised: `{_short(found['error'])}`", ""]
            continue
        lines += ["| figure | value |", "|---|---|"]
        for key, text in _leaves(found):
            lines.append(f"| {key} | {text.replace('|', '/')} |")
        lines.append("")
    return "\n".join(lines)
