"""``rewardkit serve``: refuses unsafe settings, and drains requests in flight on SIGTERM."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx

from rewardkit.cli import main

SERVER = """
import sys, time
import uvicorn
from rewardkit.core import term
from rewardkit.serve import create_app
slow = term(lambda completion: [time.sleep(1.0) or 1.0 for c in completion], name="slow")
uvicorn.run(create_app(slow), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            timeout_graceful_shutdown=10)
"""


def test_serve_refuses_a_public_address_without_a_token_and_a_missing_token_file(tmp_path, capsys):
    spec = tmp_path / "reward.toml"
    spec.write_text('term = "regex_match"\npattern = "b"\n')
    assert main(["serve", str(spec), "--host", "0.0.0.0"]) == 2
    assert "without a token" in capsys.readouterr().err
    assert main(["serve", str(spec), "--token-file", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["serve", str(spec), "--max-batch", "0"]) == 2
    assert "max_batch must be at least 1" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_sigterm_lets_the_request_in_flight_finish(tmp_path):
    port, script = _free_port(), tmp_path / "server.py"
    script.write_text(SERVER)
    process = subprocess.Popen([sys.executable, str(script), str(port)], cwd=os.getcwd())
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        replies = []
        body = {"batch": {"completion": ["a", "b"]}}
        sender = threading.Thread(
            target=lambda: replies.append(httpx.post(f"{url}/v1/score", json=body, timeout=30))
        )
        sender.start()
        while httpx.get(f"{url}/healthz", timeout=1).json()["in_flight"] == 0:
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        sender.join(30)
        assert replies and replies[0].status_code == 200
        assert replies[0].json()["status"] == ["ok", "ok"]  # scored, not cut off
        # uvicorn drains, then re-raises the signal it caught: the exit is SIGTERM's, in time
        assert process.wait(timeout=20) in (0, -signal.SIGTERM)
    finally:
        process.kill()
