"""``rewardkit serve``: serve a reward spec over HTTP (FastAPI + uvicorn).

It listens on 127.0.0.1 by default. Listening anywhere else needs a bearer
token, from ``--token-file`` or the ``REWARDKIT_SERVE_TOKEN`` environment
variable. SIGTERM (or Ctrl-C) stops new connections, lets the requests in
flight finish (up to ``--drain-seconds``), then exits.

Example:
    $ rewardkit serve examples/math_reward.toml --port 8000
    $ curl -s localhost:8000/v1/score -H 'content-type: application/json' \\
        -d '{"batch": {"completion": ["The answer is \\\\boxed{4}"], "answer": ["4"]}}'
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_serve_parser", "run_serve"]


def add_serve_parser(commands: Any) -> None:
    """Add ``rewardkit serve`` to the command line's subparsers."""
    from rewardkit.serve.settings import ServeSettings

    defaults = ServeSettings()
    serve = commands.add_parser(
        "serve",
        help="serve a reward spec over HTTP (/v1/score, OpenRLHF's /get_reward, /metrics)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("spec", type=Path, help="reward spec file (.toml, .yaml, .yml, .json)")
    serve.add_argument("--host", default=defaults.host, help="address to listen on")
    serve.add_argument("--port", type=int, default=defaults.port)
    serve.add_argument(
        "--token-file",
        type=Path,
        default=None,
        help="file whose first line is the bearer token callers must send",
    )
    serve.add_argument("--max-body-bytes", type=int, default=defaults.max_body_bytes)
    serve.add_argument("--max-batch", type=int, default=defaults.max_batch)
    serve.add_argument("--max-string-chars", type=int, default=defaults.max_string_chars)
    serve.add_argument(
        "--deadline",
        type=float,
        default=defaults.deadline_s,
        help="seconds a request may score; later samples come back as timeout",
    )
    serve.add_argument(
        "--max-in-flight",
        type=int,
        default=defaults.max_in_flight,
        help="requests scored at once; more get 429 with Retry-After",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=defaults.workers,
        help="threads that run the term off the event loop",
    )
    serve.add_argument("--chunk-size", type=int, default=defaults.chunk_size)
    serve.add_argument(
        "--not-applicable-score",
        type=float,
        default=defaults.not_applicable_score,
        help="/get_reward's reward for a sample without one",
    )
    serve.add_argument(
        "--sandbox-fusion",
        action="store_true",
        help="also serve SandboxFusion's POST /run_code from rewardkit's sandbox (for verl's "
        "reward_model.sandbox_fusion.url)",
    )
    serve.add_argument("--sandbox-max-seconds", type=float, default=defaults.sandbox_max_seconds)
    serve.add_argument("--sandbox-max-memory-mb", type=int, default=defaults.sandbox_max_memory_mb)
    serve.add_argument(
        "--drain-seconds",
        type=float,
        default=30.0,
        help="on SIGTERM, how long requests in flight may take to finish",
    )


def settings_from_args(args: argparse.Namespace) -> Any:
    """The :class:`ServeSettings` the options describe (errors name the option to fix)."""
    from rewardkit.serve.settings import ServeSettings, read_token

    return ServeSettings(
        host=args.host, port=args.port, token=read_token(args.token_file),
        max_body_bytes=args.max_body_bytes, max_batch=args.max_batch,
        max_string_chars=args.max_string_chars, deadline_s=args.deadline,
        max_in_flight=args.max_in_flight, workers=args.workers, chunk_size=args.chunk_size,
        not_applicable_score=args.not_applicable_score, sandbox_fusion=args.sandbox_fusion,
        sandbox_max_seconds=args.sandbox_max_seconds,
        sandbox_max_memory_mb=args.sandbox_max_memory_mb,
    )  # fmt: skip


def run_serve(args: argparse.Namespace) -> int:
    """Run ``rewardkit serve`` until SIGTERM or Ctrl-C; returns the exit code."""
    from rewardkit.core.spec import load_spec

    settings = settings_from_args(args)
    term = load_spec(args.spec)
    try:
        import uvicorn

        from rewardkit.serve.app import create_app
    except ImportError as exc:
        from rewardkit.core.errors import ConfigurationError

        raise ConfigurationError(
            f"rewardkit serve needs the serve extra (pip install 'rewardkit[serve]'): {exc}"
        ) from exc
    app = create_app(term, settings)
    auth = "a bearer token" if settings.token else "no token (loopback only)"
    print(f"rewardkit serve: {term.name} on http://{settings.host}:{settings.port} ({auth}); "
          "POST /v1/score, POST /get_reward, GET /healthz, GET /metrics"
          + (", POST /run_code (SandboxFusion)" if settings.sandbox_fusion else ""),
          flush=True)  # fmt: skip
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning",
                timeout_graceful_shutdown=args.drain_seconds, access_log=False)  # fmt: skip
    return 0
