"""The sandbox contract: measured, enforced or refused, and never shared between runs."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from rewardkit.core.errors import ConfigurationError, RewardKitWarning
from rewardkit.verify import _sandbox_python as python_module
from rewardkit.verify import sandbox as sandbox_module
from rewardkit.verify import sandbox_probe as probe_module
from rewardkit.verify._uid_lease import FIRST_UID, UID_COUNT, UidLease
from rewardkit.verify.code import CodeTests
from rewardkit.verify.sandbox import (
    HOW_TO_GET_FULL,
    Sandbox,
    SandboxLimits,
    SandboxUnavailableError,
    sandbox_capabilities,
)


def test_the_full_contract_holds_here():
    capabilities = sandbox_capabilities()
    assert capabilities.complete, capabilities.describe()
    assert capabilities.backend.startswith("bubblewrap")
    assert "network_namespace    yes" in capabilities.describe()


def test_missing_bwrap_is_refused_with_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on it
    monkeypatch.setattr(probe_module, "_capability_cache", {})
    with pytest.raises(SandboxUnavailableError) as caught:
        Sandbox()
    message = str(caught.value)
    assert "bwrap not found" in message and "apt-get install bubblewrap" in message
    assert "isolation='minimal'" in message and message.endswith(HOW_TO_GET_FULL)
    with pytest.raises(SandboxUnavailableError):
        CodeTests()  # refused at construction, before any training step


def test_a_partial_contract_is_refused(monkeypatch):
    report = probe_module.SandboxCapabilities(
        "full", "bubblewrap", True, True, True, False, True, True
    )
    monkeypatch.setattr(sandbox_module, "sandbox_capabilities", lambda *a, **k: report)
    with pytest.raises(SandboxUnavailableError, match="cannot enforce its contract"):
        Sandbox()


def test_the_probe_is_judged_from_inside_views():
    limits = SandboxLimits(max_processes=29)
    good = {
        "interfaces": ["lo"],
        "uid": 61001,
        "uid_map": ["61001", "0", "1"],
        "usr_owner": 65534,
        "nproc": 29,
        "root": ["bin", "dev", "etc", "lib", "proc", "tmp", "usr"],
        "etc": ["ld.so.cache"],
        "tmp": ["program.py"],
        "env": ["HOME", "PATH"],
        "nested_userns": False,
    }
    judge = probe_module._judge_probe
    assert judge("full", "bwrap", "/usr/bin/python3", good, limits).complete
    cases = {
        "network_namespace": {"interfaces": ["lo", "eth0"]},
        "separate_uid": {"usr_owner": 0},  # the host's root is mapped: bwrap ran as root
        "process_limit": {"nproc": -1},
        "private_filesystem": {"root": [*good["root"], "home"]},
        "clean_environment": {"env": ["HOME", "PATH", "ENV_SECRET"]},
        "no_new_namespaces": {"nested_userns": True},
    }
    for check, change in cases.items():
        report = judge("full", "bwrap", "/usr/bin/python3", good | change, limits)
        assert not getattr(report, check) and check in report.problem, check
    leaked_etc = judge("full", "bwrap", "/usr/bin/python3", good | {"etc": ["passwd"]}, limits)
    assert not leaked_etc.private_filesystem and "etc/passwd" in leaked_etc.problem


def test_minimal_isolation_warns_once_and_reports_what_it_lacks(monkeypatch):
    monkeypatch.setattr(sandbox_module, "_warned_minimal", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Sandbox(isolation="minimal")
        Sandbox(isolation="minimal")
    messages = [w for w in caught if issubclass(w.category, RewardKitWarning)]
    assert len(messages) == 1 and "minimal" in str(messages[0].message)
    report = sandbox_capabilities("minimal")
    assert not report.complete and not report.private_filesystem and report.clean_environment
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RewardKitWarning)
        result = Sandbox(isolation="minimal").run("import os\nprint(sorted(os.environ))")
    assert result.stdout.strip() == "['LANG', 'PATH']"


def test_bad_settings_are_clear_errors():
    with pytest.raises(ConfigurationError, match="isolation"):
        Sandbox(isolation="none")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="wall_seconds"):
        SandboxLimits(wall_seconds=float("nan"))
    with pytest.raises(ConfigurationError, match="scratch_mb"):
        SandboxLimits(scratch_mb=0)


def test_scratch_space_is_capped_and_private():
    sandbox = Sandbox(SandboxLimits(scratch_mb=2, max_output_bytes=4 << 20))
    program = (
        "import os\nwritten = 0\n"
        "try:\n    with open('/tmp/fill', 'wb') as f:\n"
        "        for _ in range(8):\n            f.write(b'x' * (1 << 19))\n            f.flush()\n"
        "            os.fsync(f.fileno())\n            written += 1\n"
        "except OSError:\n    pass\nprint(written)\n"
    )
    result = sandbox.run(program)
    assert result.status == "ok" and int(result.stdout) < 8  # 2 MB of 4 MB asked


def test_uid_leases_are_unique_across_threads():
    with ThreadPoolExecutor(8) as pool:
        leases = [UidLease() for _ in range(8)]
        uids = list(pool.map(lambda lease: lease.__enter__(), leases))
    try:
        assert len(set(uids)) == 8
        assert all(FIRST_UID <= uid < FIRST_UID + UID_COUNT for uid in uids)
    finally:
        for lease in leases:
            lease.__exit__(None, None, None)


def _lease_and_report(queue) -> None:
    with UidLease() as uid:
        queue.put(uid)
        queue.get()  # hold the lease until the parent has compared


def test_a_uid_held_by_another_process_is_never_leased():
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    other = context.Process(target=_lease_and_report, args=(queue,))
    other.start()
    try:
        held = queue.get(timeout=60)
        mine = [UidLease() for _ in range(50)]
        uids = [lease.__enter__() for lease in mine]
        assert held not in uids and len(set(uids)) == 50
        for lease in mine:
            lease.__exit__(None, None, None)
    finally:
        queue.put("done")
        other.join(30)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root leases uids (others run as themselves)")
def test_runs_as_root_never_run_as_root():
    result = Sandbox().run("import os\nprint(os.getuid(), os.stat('/usr').st_uid)")
    inside_uid, usr_owner = map(int, result.stdout.split())
    assert FIRST_UID <= inside_uid < FIRST_UID + UID_COUNT and usr_owner != 0


def test_a_sandbox_that_fails_to_start_is_a_sandbox_error_not_a_wrong_answer(monkeypatch):
    sandbox = Sandbox()
    build = sandbox._bwrap_command

    def broken(program, limits, as_init=False):  # a bind bwrap cannot make: setup fails first
        command = build(program, limits, as_init)
        return [command[0], "--ro-bind", "/nonexistent-rewardkit", "/x", *command[1:]]

    monkeypatch.setattr(sandbox, "_bwrap_command", broken)
    result = sandbox.run("print(1)")
    assert result.status == "sandbox_error" and "nonexistent" in result.stderr
    monkeypatch.undo()
    assert sandbox.run("import sys\nsys.exit(1)").status == "runtime_error"


def test_an_interpreter_outside_an_install_folder_is_refused(tmp_path):
    fake = tmp_path / "bin" / "python3"
    fake.parent.mkdir()
    fake.symlink_to("/usr/bin/python3")  # resolves into /usr: fine
    assert python_module._prefix_problem(str(fake)) is None
    lonely = tmp_path / "python3"
    lonely.write_text("")
    assert "not a Python install" in python_module._prefix_problem(str(lonely))
    install = tmp_path / "install"  # an install under /tmp would be hidden by the scratch /tmp
    (install / "bin").mkdir(parents=True)
    (install / "lib" / "python3.11").mkdir(parents=True)
    (install / "bin" / "python3").write_text("")
    problem = python_module._prefix_problem(str(install / "bin" / "python3"))
    assert "sandbox's own /tmp" in problem


def test_a_virtual_environment_under_tmp_is_shown_elsewhere(tmp_path):
    environment = tmp_path / "venv"
    subprocess.run(
        ["/usr/bin/python3", "-m", "venv", "--without-pip", str(environment)], check=True
    )
    interpreter = str(environment / "bin" / "python3")
    assert python_module._prefix_problem(interpreter) is None
    result = Sandbox(python=interpreter).run("import sys\nprint(sys.prefix, sys.executable)")
    moved = python_module._MOVED_ENVIRONMENT
    assert result.stdout.split() == [moved, f"{moved}/bin/python3"], result.stderr


def test_programs_run_under_the_callers_interpreter_with_its_packages_read_only():
    import sys

    import numpy

    program = (
        "import errno, os, sys, numpy\n"
        "print(sys.executable)\n"
        "print(numpy.__version__)\n"
        "try:\n"
        "    open(os.path.join(os.path.dirname(numpy.__file__), 'x.py'), 'w')\n"
        "except OSError as exc:\n"
        "    print(errno.errorcode[exc.errno])\n"
    )
    result = Sandbox().run(program)
    assert result.status == "ok", result.stderr
    executable, version, write = result.stdout.split()
    assert executable == python_module._shown_python(sys.executable)
    assert version == numpy.__version__
    assert write in ("EROFS", "EACCES")


@pytest.mark.skipif(os.geteuid() != 0, reason="views are made only for a leased uid")
def test_a_private_interpreter_is_shown_to_the_leased_uid_without_touching_host_mounts(
    request,
):
    # a pyenv under /root (mode 700) cannot be reached by the leased uid: the run binds
    # it onto an empty view inside a private mount namespace, never on the host
    private = Path(tempfile.mkdtemp(dir="/root"))  # mode 700, like /root itself
    request.addfinalizer(lambda: shutil.rmtree(private, ignore_errors=True))
    environment = private / "venv"
    subprocess.run(
        ["/usr/bin/python3", "-m", "venv", "--without-pip", str(environment)], check=True
    )
    interpreter = environment / "bin" / "python3"
    host_mounts = Path("/proc/self/mountinfo").read_text()
    sandbox = Sandbox(python=str(interpreter))
    assert sandbox._needs_views
    command, popen_arguments = sandbox._as_uid(sandbox._bwrap_command("p.py", sandbox.limits), 1)
    assert command[0].endswith("unshare") and popen_arguments == {}
    result = sandbox.run("import sys, os\nprint(sys.executable, os.getuid() != 0)")
    assert result.stdout.split() == [str(interpreter), "True"], result.stderr
    assert Path("/proc/self/mountinfo").read_text() == host_mounts
    for view in python_module._folder_views(str(interpreter)).values():
        assert os.listdir(view) == []
