"""The code sandbox ends every hostile program within its limits, and scores tests."""

import socket
import threading
import time

import numpy as np
import pytest

from rewardkit.core import Status
from rewardkit.verify.code import CodeTests, Sandbox, SandboxLimits, extract_code

LIMITS = SandboxLimits(wall_seconds=2.0, cpu_seconds=3, memory_mb=256, max_processes=16)


@pytest.fixture(scope="module")
def sandbox():
    return Sandbox(LIMITS, slots=2)


def timed(sandbox, source, stdin=""):
    start = time.monotonic()
    result = sandbox.run(source, stdin)
    elapsed = time.monotonic() - start
    assert elapsed < LIMITS.wall_seconds + 1.5, f"took {elapsed:.1f}s: {result}"
    return result


def test_normal_program(sandbox):
    result = timed(sandbox, "import sys\nprint(sum(map(int, sys.stdin.read().split())))", "2 3")
    assert result.status == "ok" and result.stdout.strip() == "5"


def test_runtime_error(sandbox):
    result = timed(sandbox, "raise SystemExit(3)")
    assert result.status == "runtime_error" and result.returncode == 3


def test_kills_an_infinite_loop(sandbox):
    assert timed(sandbox, "while True:\n    pass").status == "timeout"


def test_kills_a_sleeping_program(sandbox):
    assert timed(sandbox, "import time\ntime.sleep(60)").status == "timeout"


def test_contains_a_fork_bomb(sandbox):
    bomb = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    result = timed(sandbox, bomb)
    assert result.status in ("timeout", "runtime_error")


def test_kills_processes_that_leave_the_session(sandbox):
    escape = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    time.sleep(120)\n"
        "print('parent done')\n"
    )
    result = timed(sandbox, escape)
    assert result.status == "ok"  # the survivors are looked for in test_sandbox_attacks


def test_memory_bomb_is_an_error(sandbox):
    result = timed(sandbox, "x = bytearray(2 * 1024 ** 3)\nprint(len(x))")
    assert result.status == "runtime_error" and "MemoryError" in result.stderr


def test_huge_output_is_capped(sandbox):
    result = timed(sandbox, "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n")
    assert result.status in ("output_limit", "timeout")
    assert len(result.stdout) <= LIMITS.max_output_bytes


def test_files_stay_in_a_fresh_directory(sandbox):
    first = timed(sandbox, "open('note.txt', 'w').write('hi')\nimport os\nprint(os.getcwd())")
    second = timed(sandbox, "import os\nprint(os.path.exists('note.txt'))")
    assert first.status == "ok" and second.stdout.strip() == "False"
    assert first.stdout.strip() == "/tmp"  # a private tmpfs, gone with the run


def test_network_is_denied_or_reported(sandbox):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    client = (
        "import socket\n"
        "s = socket.socket()\n"
        "s.settimeout(1)\n"
        f"s.connect(('127.0.0.1', {port}))\n"
        "print('connected')\n"
    )
    result = timed(sandbox, client)
    server.close()
    assert result.status == "runtime_error" and "connected" not in result.stdout
    assert not accepted


def test_run_many_is_concurrent_and_ordered(sandbox):
    jobs = [(f"import time\ntime.sleep(0.5)\nprint({k})", "") for k in range(4)]
    start = time.monotonic()
    results = sandbox.run_many(jobs)
    assert [r.stdout.strip() for r in results] == ["0", "1", "2", "3"]
    assert time.monotonic() - start < 4 * 0.5 + 0.5  # two slots run side by side


def test_code_tests_term():
    square_io = [{"input": "3", "output": "9"}, {"input": "4", "output": "16"}]
    batch = {
        "completion": [
            "```python\nn = int(input())\nprint(n * n)\n```",
            "```python\nn = int(input())\nprint(n + n)\n```",  # passes only 2+2
            "```python\nwhile True: pass\n```",  # time limit exceeded = failed
            "I would square it.",  # no code: not applicable
            "```python\ndef f(x):\n    return x * x\n```",
        ],
        "tests": [
            square_io,
            square_io,
            square_io,
            square_io,
            [{"assert": "assert f(3) == 9"}, {"assert": "assert f(2) == 5"}],
        ],
    }
    term = CodeTests(wall_seconds=1.0, slots=2)
    out = term(batch)
    np.testing.assert_allclose(out.total, [1.0, 0.0, 0.0, np.nan, 0.5])
    assert out.status[3] == Status.NOT_APPLICABLE and "time limit exceeded" in out.messages[2]
    all_pass = CodeTests(mode="all_pass", wall_seconds=1.0, slots=2)(batch)
    np.testing.assert_allclose(all_pass.total, [1.0, 0.0, 0.0, np.nan, 0.0])


def test_extract_code_takes_the_last_block():
    text = "```python\nprint(1)\n```\nbetter:\n```py\nprint(2)\n```"
    assert extract_code(text) == "print(2)\n"
    assert extract_code("no code") is None


FENCE = "`" * 3


def _program(source):
    return f"{FENCE}python\n{source}\n{FENCE}"


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("sys.exit(0) before the asserts", "import sys\ndef f(x):\n    return 0\nsys.exit(0)"),
        ("os._exit(0) before the asserts", "import os\ndef f(x):\n    return 0\nos._exit(0)"),
        (
            "an object equal to everything",
            "class A:\n    def __eq__(self, other):\n        return True\n"
            "    __hash__ = object.__hash__\ndef f(x):\n    return A()",
        ),
        (
            "reading the nonce and printing a guess",
            "import sys\nn = sys.stdin.readline().strip()\nprint()\nprint(n, 5)\nsys.exit(0)",
        ),
        ("a string that looks like the answer", "def f(x):\n    return '4'"),
        ("a boolean for a number", "def f(x):\n    return True"),
        (
            "reading the nonce from stdin first, then a fake result line",
            "import sys, os\nn = sys.stdin.readline().strip()\n"
            'print()\nprint(n, \'[["ok", "4"], ["ok", "9"], ["ok", "9"]]\')\nos._exit(0)',
        ),
        (
            "reading its own file for the expected values",
            "import re\nsource = open(__import__('sys').argv[0]).read()\n"
            "wanted = [int(x) for x in re.findall(r'== (\\d+)', source)]\n"
            "def f(x):\n    return wanted[0] if wanted else -1",
        ),
        (
            "an object whose repr is a number",
            "class A:\n    def __repr__(self):\n        return '7'\ndef f(x):\n    return A()",
        ),
    ],
)
def test_assert_style_tests_cannot_be_passed_without_the_answer(name, source):
    tests = [
        {"assert": "assert f(2) == 4"},
        {"assert": "assert f(3) in (9,)"},
        {"assert": "assert f(3) == 9 and f(4) == 16"},  # judged outside too, leaf by leaf
        {"assert": "assert (f(2) == 4) == True"},
    ]
    out = CodeTests(wall_seconds=5.0)({"completion": [_program(source)], "tests": [tests]})
    assert out.total[0] == 0.0, (name, out.messages)


def test_assert_style_tests_pass_a_correct_program():
    source = "def f(x):\n    print('working...')\n    return x * x"
    tests = [
        {"assert": "assert f(2) == 4"},
        {"assert": "assert f(3) in (9,)"},
        {"assert": "assert f(1.5) == 2.25"},
        {"assert": "assert [f(i) for i in range(3)] == [0, 1, 4]"},
        {"assert": "assert f(3) == 9 and (f(4) == 16 or f(4) == -1)"},
        {"assert": "assert not f(0) and f(1) is not None"},
        {"assert": "assert abs(f(0.1) - 0.01) < 1e-9"},
        {"assert": "assert 0 < f(2) <= 4"},
        {"assert": "x = f(5)\nassert x == 25\nx = f(6)\nassert x == 36"},
        {"assert": "assert f(2) == f(-2)"},  # both sides computed by the program
        {"assert": "assert 'a' in 'cat' and f(2) not in [1, 2, 3]"},
    ]
    out = CodeTests(wall_seconds=5.0)({"completion": [_program(source)], "tests": [tests]})
    assert out.total[0] == 1.0, out.messages


def test_a_program_with_a_daemon_still_reports():
    source = (
        "import os, time\nif os.fork() == 0:\n    time.sleep(30)\n    os._exit(0)\n"
        "def f(x):\n    return x * x"
    )
    out = CodeTests(wall_seconds=3.0)(
        {"completion": [_program(source)], "tests": [[{"assert": "assert f(3) == 9"}]]}
    )
    assert out.total[0] == 1.0, out.messages


def test_assert_forms_are_judged_outside_like_python_would():
    source = "def f(x):\n    return [x] * x\ndef g(x):\n    return x > 1"
    tests = [
        {"assert": "assert f(2) == [2, 2]"},
        {"assert": "assert f(2) != [2]"},
        {"assert": "assert len(f(3)) >= 3"},
        {"assert": "assert g(2)"},
        {"assert": "assert not g(0)"},  # not a comparison: a truth value, judged outside
        {"assert": "assert f(1) in ([1], [2])"},
    ]
    out = CodeTests(wall_seconds=5.0)({"completion": [_program(source)], "tests": [tests]})
    assert out.total[0] == 1.0, out.messages
    failing = [{"assert": "assert f(2) == [2]"}, {"assert": "assert g(0)"}]
    out = CodeTests(wall_seconds=5.0)({"completion": [_program(source)], "tests": [failing]})
    assert out.total[0] == 0.0
