"""The curated top-level API: pinned, lazy, nothing leaked."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rewardkit as rk

PINNED = [
    "BatchError", "CodeTests", "CompositionError", "ConfigurationError", "CosineLength",
    "CountBonus", "DapoOverlong", "ExactMatch", "HackingMonitor", "JudgeSettings",
    "LengthLinear", "LikelihoodReward", "MathPolicy", "MathVerifier", "MissingColumnError",
    "NovelDBonus",
    "OpenRLHFReward", "PartialCredit", "PotentialShaping", "RNDBonus", "ReferenceJudge",
    "RegexMatch", "RemoteReward",
    "RewardKitError", "RewardKitWarning", "RewardOutput", "RewardTerm",
    "RewardkitCallback", "RewardkitWrapper", "RubricJudge", "Sandbox", "SpecError", "Status",
    "TRLReward", "Term", "ThinkAnswerFormat", "VerlReward", "__version__",
    "action_l2", "adapters", "affine", "as_term", "audit", "author", "best_of_n",
    "build_reward", "check_reward", "clip", "column", "conditional", "constant",
    "core", "credit", "default_monitors", "discounted_returns", "distributed",
    "dr_grpo_advantages", "env_reward", "epic_distance", "explore", "fallback", "gate",
    "gdpo_advantages", "generalized_advantage_estimation", "group_advantages",
    "group_switch", "grpo_advantages", "grpo_lambda", "hdpo_advantages",
    "judge", "lambda_returns", "load_spec", "models", "par_transform", "pass_at_k", "probe",
    "product",
    "register", "rloo_advantages", "serve", "shaping", "signals", "smc", "split_parts",
    "steer", "tempo_advantages", "term", "tiered", "to_rubric", "train",
    "turn_advantages", "v1_reward", "value_guided", "verify", "weighted_sum",
]  # fmt: skip


def test_the_top_level_names_are_pinned():
    assert sorted(rk.__all__) == sorted(PINNED)
    assert len(set(rk.__all__)) == len(rk.__all__)


def test_dir_shows_the_curated_names_and_no_leaks():
    assert dir(rk) == sorted(PINNED)
    for leak in ("version", "PackageNotFoundError", "importlib", "Any"):
        assert leak not in dir(rk)


@pytest.mark.parametrize("name", PINNED)
def test_every_name_resolves(name):
    assert getattr(rk, name) is not None


def test_lazy_names_are_the_packages_own_objects():
    from rewardkit.adapters.trl import TRLReward
    from rewardkit.credit import grpo_advantages
    from rewardkit.verify import MathVerifier

    assert rk.MathVerifier is MathVerifier and rk.TRLReward is TRLReward
    assert rk.grpo_advantages is grpo_advantages
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = rk.nothing_here


def test_importing_rewardkit_imports_no_extra():
    code = (
        "import sys, rewardkit\n"
        "heavy = {'torch', 'transformers', 'trl', 'gymnasium', 'fastapi', 'ray', 'sympy'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _type_checking_names(module) -> dict[str, str]:
    """name → module of the ``if TYPE_CHECKING:`` imports in ``module``'s source."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(module))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for child in node.body:
                assert isinstance(child, ast.ImportFrom) and child.module
                found.update({alias.name: child.module for alias in child.names})
    return found


@pytest.mark.parametrize("package", ["rewardkit", "rewardkit.adapters", "rewardkit.train"])
def test_lazy_maps_and_type_checking_imports_agree(package):
    import importlib

    module = importlib.import_module(package)
    expected = {name: f"{package}.{target}" for name, target in module._LAZY.items()}
    assert _type_checking_names(module) == expected
    assert set(module._LAZY) <= set(module.__all__)


@pytest.mark.parametrize("package", ["rewardkit.adapters", "rewardkit.train"])
def test_a_lazy_package_exports_every_public_name_of_its_modules(package):
    import ast
    import importlib
    from pathlib import Path

    module = importlib.import_module(package)
    public: set[str] = set()
    for path in Path(module.__file__).parent.glob("[!_]*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__":
                public |= set(ast.literal_eval(node.value))
    reexported = {"ESTIMATORS", "TokenAdvantages"}  # train.grpo re-exports credit's
    assert set(module.__all__) == public - reexported


def test_the_error_taxonomy_keeps_kinds_apart():
    from rewardkit.models import ModelError
    from rewardkit.serve import ServeError
    from rewardkit.verify.sandbox import SandboxUnavailableError

    assert issubclass(rk.CompositionError, rk.ConfigurationError)
    assert issubclass(ServeError, rk.ConfigurationError)
    for error in (SandboxUnavailableError, ModelError, rk.BatchError, rk.SpecError):
        assert issubclass(error, rk.RewardKitError)
        assert not issubclass(error, rk.ConfigurationError), error
    with pytest.raises(rk.ConfigurationError, match="mode must be"):
        rk.CodeTests(mode="best")
