"""``LocalServer``'s life (start, health, kill, start again, stop) on a stand-in executable.

The stand-in plays ``transformers serve``: it records its command line, starts a
child process (as the real server starts its model worker, in the same process
group), and then serves ``/health``, exits at once, or never gets healthy. The
real server is started by the judge tests (``tests/judge/conftest.py``).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

import pytest

from rewardkit.core.errors import ConfigurationError
from rewardkit.lm import serving
from rewardkit.lm.serving import LocalServer, free_port, served_model_id

STAND_IN = """\
import http.server, json, os, subprocess, sys, time

argv = sys.argv[1:]
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
record = {"argv": argv, "pid": os.getpid(), "child": child.pid,
          "offline": os.environ.get("HF_HUB_OFFLINE")}
with open(os.environ["STAND_IN_RECORD"], "a") as handle:
    handle.write(json.dumps(record) + "\\n")
mode = os.environ.get("STAND_IN_MODE", "healthy")
if mode == "exit":
    print("cannot load the model", flush=True)
    sys.exit(3)
if mode == "never":
    time.sleep(120)


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


port = int(argv[argv.index("--port") + 1])
http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
"""


@pytest.fixture()
def stand_in(tmp_path, monkeypatch):
    """Replaces the ``transformers`` command; returns a function reading what each run saw."""
    script = tmp_path / "transformers"
    script.write_text(f"#!{sys.executable}\n{STAND_IN}")
    script.chmod(0o755)
    record = tmp_path / "runs.jsonl"
    monkeypatch.setattr(serving, "_executable", lambda: str(script))
    monkeypatch.setenv("STAND_IN_RECORD", str(record))

    def runs() -> list[dict]:
        return [json.loads(line) for line in record.read_text().splitlines()]

    return runs


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def _gone(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_start_waits_for_health_and_stop_ends_the_whole_group(stand_in, tmp_path):
    server = LocalServer(tmp_path / "model", extra_args=("--continuous-batching",))
    try:
        assert not server.healthy()
        assert server.start() is server and server.healthy()
        (run,) = stand_in()
        assert run["argv"] == [
            "serve",
            str(tmp_path / "model"),
            "--host",
            "127.0.0.1",
            "--port",
            str(server.port),
            "--continuous-batching",
        ]
        assert run["offline"] == "1" and _alive(run["child"])
        assert server.start() is server and len(stand_in()) == 1  # already running
    finally:
        server.stop()
    assert not server.healthy()
    assert _gone(run["pid"]) and _gone(run["child"])  # the worker too
    server.stop()  # twice is harmless


def test_kill_then_start_again_on_the_same_port(stand_in, tmp_path):
    with LocalServer(tmp_path / "model") as server:
        port = server.port
        server.kill()
        assert not server.healthy() and _gone(stand_in()[0]["child"])
        server.start()
        assert server.healthy() and server.port == port and len(stand_in()) == 2
    assert _gone(stand_in()[1]["pid"])


def test_a_server_that_exits_raises_with_its_code_and_leaves_nothing(
    stand_in, tmp_path, monkeypatch
):
    monkeypatch.setenv("STAND_IN_MODE", "exit")
    log = tmp_path / "serve.log"
    server = LocalServer(tmp_path / "model", log_path=log)
    with pytest.raises(RuntimeError, match=f"exited with code 3; see {log}"):
        server.start()
    assert "cannot load the model" in log.read_text()
    assert _gone(stand_in()[0]["child"])  # its orphaned worker is killed too


def test_a_server_never_healthy_times_out_and_is_stopped(stand_in, tmp_path, monkeypatch):
    monkeypatch.setenv("STAND_IN_MODE", "never")
    server = LocalServer(tmp_path / "model", start_timeout_s=1.0)
    with pytest.raises(TimeoutError, match="not healthy within 1 s"):
        server.start()
    (run,) = stand_in()
    assert _gone(run["pid"]) and _gone(run["child"])


def test_without_the_transformers_command_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(serving.shutil, "which", lambda name: None)
    with pytest.raises(ConfigurationError, match=r"pip install 'transformers\[serving\]"):
        LocalServer(tmp_path / "model").start()


def test_addresses_and_model_ids(tmp_path):
    server = LocalServer(tmp_path / "m.gguf", port=8123)
    assert server.base_url == "http://127.0.0.1:8123/v1"
    assert server.model == f"{tmp_path}:m.gguf"
    assert repr(server) == f"LocalServer(model='{tmp_path}:m.gguf', port=8123)"
    assert served_model_id(tmp_path / "folder") == str(tmp_path / "folder")


def test_a_free_port_can_be_bound():
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))
    assert 0 < port < 65536 and os.name == "posix"
