"""A reward server in a background thread: for notebooks, tests and single-machine runs.

Example:
    >>> from rewardkit.core import term
    >>> from rewardkit.serve import RemoteReward
    >>> length = term(lambda completion: [len(c) for c in completion], name="length")
    >>> with background_server(length) as url:
    ...     RemoteReward(url)({"completion": ["abc"]}).total.tolist()
    [3.0]
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from rewardkit.core.term import Term
from rewardkit.serve.settings import ServeError, ServeSettings

__all__ = ["app_in_thread", "background_server"]


@contextlib.contextmanager
def app_in_thread(
    app: Any, host: str = "127.0.0.1", port: int = 0, start_timeout_s: float = 30.0
) -> Iterator[str]:
    """Serve any ASGI ``app`` with uvicorn in a daemon thread and yield its base URL (port 0:
    a free one); the server drains and stops when the block ends."""
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="error", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="rewardkit-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise ServeError(f"the server did not start on {host}:{port}")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(start_timeout_s)


def background_server(term: Term, settings: ServeSettings | None = None) -> Any:
    """A context manager serving ``term`` (see :func:`rewardkit.serve.create_app`) in a
    background thread; it yields the base URL. ``settings`` default to loopback, a free
    port and no token."""
    from rewardkit.serve.app import create_app

    settings = settings or ServeSettings(port=0)
    return app_in_thread(create_app(term, settings), settings.host, settings.port)
