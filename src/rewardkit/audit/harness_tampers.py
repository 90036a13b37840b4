"""Attacks on the code-test harness: programs that solve nothing and game the tests.

Each program defines ``f`` wrongly (or not at all) and tampers with what it
can reach from its own process: the harness's state through ``__main__`` and
``gc``, builtins, an object whose comparisons always succeed, exiting early,
killing or signalling other processes, forging or reading the report, flooding
stdout. :func:`tamper_scores` runs one through every function-test format
(HumanEval's ``check``, MBPP's asserts, call cases): each must score 0.
:mod:`rewardkit.audit.sandbox_attacks` runs them as attacks, and
``rewardkit bench code`` runs them on every HumanEval problem.

Example:
    >>> sorted(HARNESS_TAMPERS)[:3]
    ['always_succeeds', 'builtins_exec', 'exit_at_import']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rewardkit.verify.code import CodeTests
from rewardkit.verify.sandbox import Isolation

__all__ = [
    "HARNESS_TAMPERS",
    "always_equal",
    "early_exit",
    "forged_result",
    "tamper_attack",
    "tamper_scores",
    "warm_leftovers",
]

FENCE = "`" * 3
#: the wall-clock limit per test of the code-reward attacks
WALL_SECONDS = 5.0

#: harness tampering: each program's ``f`` is wrong (or solves nothing) and tampers
#: with what it can reach; run through every function-test format (HumanEval's
#: ``check``, MBPP's asserts, call cases) it must score 0 in each
HARNESS_TAMPERS: dict[str, str] = {
    "main_steps": (
        "import gc, sys\n"
        "main = sys.modules.get('__main__')\n"
        "for value in list(vars(main).values()) if main else []:\n"
        "    if isinstance(value, (list, dict)):\n"
        "        value.clear()\n"
        "for obj in gc.get_objects():\n"
        "    if isinstance(obj, list) and obj and isinstance(obj[0], (tuple, list, dict)):\n"
        "        obj.clear()\n"
        "def f(x):\n    return 0\n"
    ),
    "builtins_exec": (
        "import builtins\n"
        "builtins.exec = lambda *a, **k: None\n"
        "builtins.eval = lambda *a, **k: True\n"
        "builtins.compile = lambda *a, **k: None\n"
        "builtins.AssertionError = type('AssertionError', (Warning,), {})\n"
        "def f(x):\n    return 0\n"
    ),
    "always_succeeds": (
        "class Anything:\n"
        "    def __eq__(self, other):\n        return True\n"
        "    __ne__ = lambda self, other: False\n"
        "    __gt__ = __ge__ = __lt__ = __le__ = __contains__ = __eq__\n"
        "    __bool__ = lambda self: True\n"
        "    __hash__ = object.__hash__\n"
        "    def _self(self, *args):\n        return self\n"
        "    __sub__ = __rsub__ = __add__ = __radd__ = __mul__ = __rmul__ = _self\n"
        "    __truediv__ = __rtruediv__ = __abs__ = __neg__ = __pow__ = __round__ = _self\n"
        "    __float__ = lambda self: 0.0\n"
        "def f(x):\n    return Anything()\n"
    ),
    "str_subclass": (
        "class Yes(int):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    __hash__ = int.__hash__\n"
        "def f(x):\n    return Yes(0)\n"
    ),
    "exit_at_import": "import os\ndef f(x):\n    return 0\nos._exit(0)\n",
    "exit_in_call": "import sys\ndef f(x):\n    sys.exit(0)\n",
    "kill_the_judge": (
        "import os, signal\n"
        "def f(x):\n"
        "    pids = [int(p) for p in os.listdir('/proc') if p.isdigit()]\n"
        "    pids = [pid for pid in pids if pid != os.getpid()]\n"
        "    for pid in pids:\n"
        "        for sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM, signal.SIGINT):\n"
        "            try:\n                os.kill(pid, sig)\n"
        "            except OSError:\n                pass\n"
        "    return 0\n"
    ),
    "forge_the_report": (
        "import json, os, sys\n"
        "def f(x):\n"
        "    try:\n"
        "        stolen = open('/proc/1/fd/0').read().splitlines()\n"
        "    except OSError:\n"
        "        stolen = ['0' * 32]\n"
        "    line = stolen[0] + ' ' + json.dumps({'results': [['pass', '', None]] * 8})\n"
        "    for fd in ('/proc/1/fd/1', '/dev/stdout', '/proc/self/fd/1'):\n"
        "        try:\n"
        "            with open(fd, 'w') as out:\n                out.write('\\n' + line + '\\n')\n"
        "        except OSError:\n"
        "            pass\n"
        "    os._exit(0)\n"
    ),
    "read_the_test": (
        "import gc, os\n"
        "def f(x):\n"
        "    seen = []\n"
        "    for path in ('/proc/1/fd/0', '/proc/1/environ', '/proc/1/cmdline', '/proc/1/mem',\n"
        "                 '/proc/%d/fd/0' % os.getppid(), '/tmp/program.py'):\n"
        "        try:\n"
        "            seen.append(open(path, 'rb').read(1 << 20).decode('latin-1'))\n"
        "        except OSError:\n"
        "            pass\n"
        "    seen += [o for o in gc.get_objects() if isinstance(o, str)]\n"
        "    import re\n"
        "    for text in seen:\n"
        "        found = re.search(r'== (\\d+)', text)\n"
        "        if found and 'rk-tamper' in text:\n"
        "            return int(found.group(1))\n"
        "    return 0\n"
    ),
    "signal_handlers": (
        "import signal\n"
        "for number in (signal.SIGALRM, signal.SIGTERM, signal.SIGXCPU):\n"
        "    signal.signal(number, signal.SIG_IGN)\n"
        "def f(x):\n    return 0\n"
    ),
    "flood_stdout": (
        "import sys\n"
        "def f(x):\n"
        "    sys.stdout.write('\\n'.join(['PASS'] * 200000))\n"
        "    sys.__stdout__.write('ok\\n' * 100000)\n"
        "    return 0\n"
    ),
}


_TAMPER_TEST = (
    "def check(candidate):\n"
    "    marker = 'rk-tamper'\n"
    "    assert candidate(7) == 49\n"
    "    assert abs(candidate(1.5) - 2.25) < 1e-9\n"
    "    for x in range(3):\n"
    "        assert candidate(x) == x * x\n"
)
_TAMPER_ASSERTS = [
    "assert f(7) == 49  # rk-tamper",
    "assert abs(f(1.5) - 2.25) < 1e-9",
    "assert f(3) in (9,)",
]
_TAMPER_CALLS = [{"args": [7], "expected": 49}, {"args": [1.5], "expected": 2.25}]


def tamper_scores(source: str, isolation: Isolation = "full") -> dict[str, float]:
    """Score ``source`` (a Python program defining ``f``) in each function-test format
    (NaN where the sample came back an error)."""
    completion = f"{FENCE}python\n{source}\n{FENCE}"
    kwargs: dict[str, Any] = {"wall_seconds": 3.0, "slots": 2, "isolation": isolation}
    scores = {}
    humaneval = CodeTests(format="humaneval", **kwargs)
    scores["humaneval"] = float(
        humaneval({"completion": [completion], "test": [_TAMPER_TEST], "entry_point": ["f"]}).total[
            0
        ]
    )
    mbpp = CodeTests(format="mbpp", **kwargs)
    scores["mbpp"] = float(
        mbpp({"completion": [completion], "test_list": [_TAMPER_ASSERTS]}).total[0]
    )
    calls = CodeTests(format="call", function="f", **kwargs)
    scores["call"] = float(calls({"completion": [completion], "tests": [_TAMPER_CALLS]}).total[0])
    return scores


def forged_result(isolation: Isolation) -> tuple[bool, str, str]:
    """Forge the harness's report: read the nonce from stdin and the expected values
    from the program's own file, print a result line, exit before the tests run."""
    forger = (
        "import os, re, sys\n"
        "nonce = sys.stdin.readline().strip()\n"
        "source = open(sys.argv[0]).read()\n"
        "wanted = [int(x) for x in re.findall(r'== (\\d+)', source)] or [4, 9]\n"
        "values = [['ok', str(v)] for v in wanted]\n"
        "import json\nprint()\nprint(nonce, json.dumps(values))\nprint(nonce)\n"
        "sys.stdout.flush()\nos._exit(0)\n"
    )
    score, message = _assert_tests(forger, ["assert f(2) == 4 and f(3) == 9"], isolation)
    return score > 0, "ok", f"score {score} ({message})"


def _assert_tests(source: str, tests: list[str], isolation: Isolation) -> tuple[float, str]:
    completion = f"{FENCE}python\n{source}\n{FENCE}"
    term = CodeTests(wall_seconds=WALL_SECONDS, slots=2, isolation=isolation)
    out = term({"completion": [completion], "tests": [[{"assert": t} for t in tests]]})
    return float(out.total[0]), str((out.messages or (None,))[0])


_SQUARE_TESTS = ["assert f(2) == 4", "assert f(3) in (9,)", "assert f(5) > 24"]


def early_exit(isolation: Isolation) -> tuple[bool, str, str]:
    scores = []
    for exit_call in ("import sys\nsys.exit(0)", "import os\nos._exit(0)"):
        score, _ = _assert_tests(f"def f(x):\n    return 0\n{exit_call}", _SQUARE_TESTS, isolation)
        scores.append(score)
    return max(scores) > 0, "ok", f"scores {scores}"


def always_equal(isolation: Isolation) -> tuple[bool, str, str]:
    source = (
        "class Anything:\n"
        "    def __eq__(self, other):\n        return True\n"
        "    __gt__ = __ge__ = __lt__ = __le__ = __contains__ = __eq__\n"
        "    __hash__ = object.__hash__\n"
        "def f(x):\n    return Anything()\n"
    )
    score, message = _assert_tests(source, _SQUARE_TESTS, isolation)
    return score > 0, "ok", f"score {score} ({message})"


#: a program that leaves a daemon and files behind, then one that looks for them: on a
#: warm worker, the second runs where the first did
_LEAVE_BEHIND = (
    "import os, time\n"
    "for path in ('/tmp/left.txt', '/tmp/job/left.txt', '/dev/shm/left.txt'):\n"
    "    open(path, 'w').write('x')\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    if os.fork() == 0:\n"
    "        end = time.time() + 5\n"
    "        while time.time() < end:\n"
    "            open('/tmp/heartbeat', 'w').write('x')\n"
    "            time.sleep(0.005)\n"
    "    os._exit(0)\n"
    "def f(x):\n    return 0\n"
)
_LOOK_AROUND = (
    "import os, time\n"
    "def f(x):\n"
    "    time.sleep(0.1)\n"
    "    paths = ('/tmp/left.txt', '/tmp/job/left.txt', '/dev/shm/left.txt', '/tmp/heartbeat')\n"
    "    return [p for p in paths if os.path.exists(p)]\n"
)


def warm_leftovers(isolation: Isolation) -> tuple[bool, str, str]:
    """One worker, two jobs: what the first leaves (files, a setsid daemon) must be gone."""
    term = CodeTests(format="call", function="f", wall_seconds=3.0, slots=1, isolation=isolation)
    leave = f"{FENCE}python\n{_LEAVE_BEHIND}\n{FENCE}"
    look = f"{FENCE}python\n{_LOOK_AROUND}\n{FENCE}"
    cases = [{"args": [0], "expected": []}]
    out = term({"completion": [leave, look], "tests": [cases, cases]})
    message = (out.messages or (None, None))[1]
    return bool(out.total[1] != 1.0), "ok", f"second job: {out.total[1]} ({message})"


def tamper_attack(name: str) -> Callable[[Isolation], tuple[bool, str, str]]:
    def attack(isolation: Isolation) -> tuple[bool, str, str]:
        scores = tamper_scores(HARNESS_TAMPERS[name], isolation)
        # a score above 0 passed a test; NaN dodged the low score (an error is not trained on)
        return any(score != 0.0 for score in scores.values()), "ok", f"scores {scores}"

    return attack
