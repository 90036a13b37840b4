# ruff: noqa: E501
"""Run today's attack corpus against the sandbox of an older commit (before #13).

The corpus (src/rewardkit/audit/sandbox_attacks.py) speaks today's API; this
script maps it onto the old ``rewardkit.verify.code.Sandbox``/``CodeTests``,
so the same attacks can show what escaped before. Usage, from the repository:

    git worktree add /tmp/rk-old 3e96806
    cp src/rewardkit/audit/sandbox_attacks.py /tmp/attacks_now.py
    PYTHONPATH=/tmp/rk-old/src:$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \\
        .venv/bin/python benchmarks/sandbox-before/attacks_on_old_commit.py /tmp/attacks_now.py [NAMES]

As a normal user, run the last line under ``setpriv --reuid=60999 --regid=60999
--clear-groups /usr/bin/python3`` with HOME set to a folder that user owns
(outside /tmp), one attack per call: the old cross-kill attack kills the runner.
``cross_kill_processes`` is not supported (its spawned child lacks this mapping).
"""

import dataclasses
import importlib.util
import sys
import types

import rewardkit.verify.code as old


@dataclasses.dataclass(frozen=True)
class Limits(old.SandboxLimits):
    scratch_mb: int = 16


def make_sandbox(limits=None, slots=None, python=None, isolation="full"):
    fields = {k: v for k, v in dataclasses.asdict(limits).items() if k != "scratch_mb"}
    return old.Sandbox(old.SandboxLimits(**fields), slots=slots)


class OldCodeTests(old.CodeTests):
    def __init__(self, *args, isolation="full", **kwargs):
        super().__init__(*args, **kwargs)


shim = types.ModuleType("rewardkit.verify.sandbox")
shim.ExecutionResult, shim.Isolation = old.ExecutionResult, str
shim.Sandbox, shim.SandboxLimits = make_sandbox, Limits
sys.modules["rewardkit.verify.sandbox"] = shim
old.CodeTests = OldCodeTests
spec = importlib.util.spec_from_file_location("attacks", sys.argv[1])
attacks = importlib.util.module_from_spec(spec)
sys.modules["attacks"] = attacks
spec.loader.exec_module(attacks)
sys.exit(attacks.main(sys.argv[2:]))
