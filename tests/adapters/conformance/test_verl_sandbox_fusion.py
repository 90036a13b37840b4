"""verl 0.9.1's ``sandbox_fusion`` reward path against ``rewardkit serve --sandbox-fusion``.

verl's client is ``verl/utils/reward_score/sandbox_fusion/`` (0.9.1):
``compute_score(url, semaphore, memory_limit_mb, completion, test_cases)``
extracts the fenced program, and ``utils.check_correctness`` posts one
``/run_code`` request per case (``call_sandbox_api``, l.60-150) and reads the
answer (``_process_single_case``, l.300-390): ``True`` for a run that
finished with the expected stdout, ``False`` for a wrong one, -2 runtime
error, -3 time limit, -4 compile error, -1 an API or sandbox error.

In ``.venv-verl`` (``make conformance``) verl's own client code runs against a
live ``rewardkit serve`` started from ``.venv`` on a free port; in ``.venv``
the same requests go through FastAPI's test client, and the status mapping is
read the way verl reads it.
"""

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
REWARDKIT = ROOT / ".venv" / "bin" / "rewardkit"
FENCE = "`" * 3

SQUARE = "n = int(input())\nprint(n * n)\n"
CASES = {"inputs": ["3\n", "12\n"], "outputs": ["9\n", "144\n"]}


def payload(code, stdin="", language="python"):
    """verl's call_sandbox_api body (l.95-107)."""
    return {
        "compile_timeout": 10,
        "run_timeout": 10,
        "code": code,
        "stdin": stdin,
        "memory_limit_MB": 1024,
        "language": language,
        "files": {},
        "fetch_files": [],
    }


def verl_status(answer, expected):
    """_process_single_case's reading of an answer (l.318-385)."""
    status = answer.get("status")
    compiled, ran = answer.get("compile_result"), answer.get("run_result")
    if status == "SandboxError":
        return -1
    if status == "Failed":
        if compiled and (
            compiled["status"] in ("Error", "TimeLimitExceeded")
            or (compiled["status"] == "Finished" and compiled.get("return_code") != 0)
        ):
            return -4
        if ran:
            if ran["status"] == "TimeLimitExceeded":
                return -3
            if ran["status"] == "Error" or ran.get("return_code") != 0:
                return -2
        return -1
    if status == "Success" and ran and ran["status"] == "Finished":
        return str(ran["stdout"]).rstrip("\n") == str(expected).rstrip("\n")
    return -1


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from rewardkit.core import term
    from rewardkit.serve.app import create_app
    from rewardkit.serve.settings import ServeSettings

    length = term(lambda completion: [len(c) for c in completion], name="length")
    settings = ServeSettings(sandbox_fusion=True, token="secret-token")
    with TestClient(create_app(length, settings)) as test_client:
        yield test_client


def run(client, body):
    response = client.post("/run_code", json=body, headers={"Authorization": "Bearer secret-token"})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("code", "language", "stdin", "expected", "status"),
    [
        (SQUARE, "python", "3\n", "9\n", True),
        ("print(0)", "python", "3\n", "9\n", False),
        ("raise SystemExit(2)", "python", "", "", -2),
        ("while True:\n    pass", "python", "", "", -3),
        ("int main( {", "cpp", "", "", -4),
        (
            "#include <iostream>\nint main(){int n;std::cin>>n;std::cout<<n*n<<'\\n';}",
            "cpp",
            "12\n",
            "144\n",
            True,
        ),
        (
            "const n=+require('fs').readFileSync(0,'utf8');console.log(n*n)",
            "nodejs",
            "5",
            "25",
            True,
        ),
        (
            "public class Main{public static void main(String[] a){System.out.println(7);}}",
            "java",
            "",
            "7",
            True,
        ),
        ("fn main(){}", "rust", "", "", -1),
    ],
)
def test_each_answer_reads_as_verl_reads_it(client, code, language, stdin, expected, status):
    body = payload(code, stdin, language)
    if status == -3:
        body["run_timeout"] = 1
    assert verl_status(run(client, body), expected) == status


def test_run_code_needs_the_servers_token_and_refuses_files(client):
    assert client.post("/run_code", json=payload(SQUARE)).status_code == 401
    answer = run(client, {**payload(SQUARE), "files": {"a.txt": "eA=="}})
    assert answer["status"] == "SandboxError" and "files" in answer["message"]


def test_an_untrusted_program_cannot_reach_the_server(client):
    probe = (
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 80), 1)\n"
        "    print('reached')\nexcept OSError as e:\n    print('isolated')\n"
    )
    assert run(client, payload(probe))["run_result"]["stdout"] == "isolated\n"


# ---------------------------------------------------------------- verl's own client, live


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def live_url():
    if not REWARDKIT.exists():
        pytest.skip(f"{REWARDKIT} is not built (make install)")
    port = _free_port()
    spec = ROOT / "examples" / "math_reward.toml"
    env = {k: v for k, v in os.environ.items() if k != "REWARDKIT_TOKEN"}
    server = subprocess.Popen(
        [str(REWARDKIT), "serve", str(spec), "--port", str(port), "--sandbox-fusion"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            if server.poll() is not None:
                pytest.fail(f"rewardkit serve exited: {server.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/run_code"
    finally:
        server.terminate()
        server.wait(30)


def test_verls_compute_score_against_rewardkit_serve(live_url):
    sandbox_fusion = pytest.importorskip("verl.utils.reward_score.sandbox_fusion")
    right = f"{FENCE}python\n{SQUARE}{FENCE}"
    wrong = f"{FENCE}python\nprint(1)\n{FENCE}"
    broken = f"{FENCE}python\ndef (:\n{FENCE}"
    scores = [
        sandbox_fusion.compute_score(live_url, None, 1024, c, json.dumps(CASES), timeout=10)[0]
        for c in (right, wrong, broken)
    ]
    assert scores == [1.0, 0.0, 0.0]


def test_verls_check_correctness_reads_every_status(live_url):
    utils = pytest.importorskip("verl.utils.reward_score.sandbox_fusion.utils")
    cases = {"inputs": ["3\n", "4\n"], "outputs": ["9\n", "16\n"]}
    results, _ = utils.check_correctness(live_url, cases, SQUARE, timeout=5)
    assert results == [True, True]
    results, _ = utils.check_correctness(live_url, cases, "while True:\n    pass", timeout=1)
    assert results == [-3, -3]
    cpp = "int main( {"
    results, metadata = utils.check_correctness(live_url, cases, cpp, timeout=5, language="cpp")
    assert results == [-4, -4] and metadata[0]["status"] == "compile_error"
    leetcode = {"inputs": ["[1, 2]\n3"], "outputs": ["[1, 2, 3]"], "fn_name": "push"}
    solution = "def push(items, x):\n    return items + [x]\n"
    results, _ = utils.check_correctness(live_url, leetcode, solution, timeout=5)
    assert results == [True]
