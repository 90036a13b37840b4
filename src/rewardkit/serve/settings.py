"""The reward server's settings: where it listens, who may call it, and its limits.

Example:
    >>> ServeSettings().host, ServeSettings(host="0.0.0.0", token="s3cret").max_batch
    ('127.0.0.1', 1024)
    >>> ServeSettings(host="0.0.0.0")
    Traceback (most recent call last):
    ...
    rewardkit.serve.settings.ServeError: refusing to listen on 0.0.0.0 without a token: ...
"""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import dataclass
from pathlib import Path

from rewardkit.core.errors import ConfigurationError

__all__ = ["TOKEN_VARIABLE", "ServeError", "ServeSettings", "is_loopback", "read_token"]

#: the environment variable that may hold the server's bearer token
TOKEN_VARIABLE = "REWARDKIT_SERVE_TOKEN"


class ServeError(ConfigurationError):
    """A server setting that cannot be used as given."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine (127.0.0.0/8, ::1, localhost).

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost may resolve anywhere
        return False


def read_token(token_file: str | os.PathLike[str] | None) -> str | None:
    """The bearer token: the first line of ``token_file``, else :data:`TOKEN_VARIABLE`,
    else None. An empty token is an error, not "no token"."""
    if token_file is not None:
        path = Path(token_file)
        if not path.is_file():
            raise ServeError(f"--token-file {path} does not exist")
        lines = path.read_text(encoding="utf-8").splitlines()
        token = lines[0].strip() if lines else ""
        if not token:
            raise ServeError(f"--token-file {path} is empty")
        return token
    from_environment = os.environ.get(TOKEN_VARIABLE)
    if from_environment is not None and not from_environment.strip():
        raise ServeError(f"{TOKEN_VARIABLE} is set but empty")
    return from_environment.strip() if from_environment else None


@dataclass(frozen=True)
class ServeSettings:
    """Settings of :func:`rewardkit.serve.create_app` and ``rewardkit serve``.

    Attributes:
        host: the address to listen on (loopback by default; any other needs a token).
        port: the TCP port.
        token: the bearer token callers must send (None: no authentication, loopback only).
        max_body_bytes: the largest request body (413 beyond it).
        max_batch: the most samples in one request (413 beyond it).
        max_string_chars: the longest string anywhere in a request (422 beyond it).
        deadline_s: the longest a request may score; samples not scored by then come
            back with status ``timeout`` (a request may ask for less).
        max_in_flight: requests scored at once; more are refused with 429 and
            ``Retry-After`` rather than queued without bound.
        workers: threads that run the term, off the event loop (a term's own
            process pool, e.g. the math verifier's, works beneath them).
        chunk_size: samples per worker task: the deadline's granularity.
        not_applicable_score: the reward ``/get_reward`` returns for a sample without
            one (OpenRLHF needs a number; its status is in ``extra_logs``).
        sandbox_fusion: also serve SandboxFusion's ``POST /run_code`` (verl's
            ``sandbox_fusion`` reward path) from rewardkit's sandbox.
        sandbox_max_seconds: the longest compile or run ``/run_code`` allows.
        sandbox_max_memory_mb: the most memory ``/run_code`` gives a program.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None
    max_body_bytes: int = 8 * 1024 * 1024
    max_batch: int = 1024
    max_string_chars: int = 65_536
    deadline_s: float = 30.0
    max_in_flight: int = 64
    workers: int = 2
    chunk_size: int = 64
    not_applicable_score: float = 0.0
    sandbox_fusion: bool = False
    sandbox_max_seconds: float = 30.0
    sandbox_max_memory_mb: int = 2048

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_batch", "max_string_chars", "max_in_flight",
                     "workers", "chunk_size"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ServeError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.port <= 65_535:
            raise ServeError(f"port must be in [0, 65535], got {self.port}")
        if not self.sandbox_max_seconds > 0 or self.sandbox_max_memory_mb < 16:
            raise ServeError("sandbox_max_seconds must be positive and sandbox_max_memory_mb >= 16")
        if not self.deadline_s > 0:
            raise ServeError(f"deadline_s must be positive, got {self.deadline_s}")
        if not math.isfinite(self.not_applicable_score):
            raise ServeError("not_applicable_score must be a finite number")
        if self.token is not None and not self.token:
            raise ServeError("the token must not be empty (None means no token)")
        if self.token is None and not is_loopback(self.host):
            raise ServeError(
                f"refusing to listen on {self.host} without a token: anyone who can reach it "
                f"could use it. Pass --token-file, or set {TOKEN_VARIABLE}"
            )
