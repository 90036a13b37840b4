"""The reward server: a term behind HTTP, and ``RemoteReward``, its client term.

- :func:`create_app`: a FastAPI app serving one term (``/v1/score``,
  OpenRLHF's ``/get_reward``, ``/healthz``, ``/metrics``) with a bearer token,
  size limits, a deadline and backpressure; ``rewardkit serve SPEC`` runs it;
- :class:`ServeSettings`: where it listens and its limits;
- :class:`RemoteReward`: a term that scores through such a server;
- :func:`background_server`: a server in a background thread (notebooks, tests).

Importing this package needs no web framework; :func:`create_app` needs the
``serve`` extra (``pip install 'rewardkit[serve]'``).
"""

from rewardkit.serve.background import background_server
from rewardkit.serve.remote import RemoteReward
from rewardkit.serve.settings import ServeError, ServeSettings, is_loopback, read_token

__all__ = [
    "RemoteReward",
    "ServeError",
    "ServeSettings",
    "background_server",
    "create_app",
    "is_loopback",
    "read_token",
]


def create_app(term, settings=None):  # type: ignore[no-untyped-def]
    """See :func:`rewardkit.serve.app.create_app` (imported on use: it needs FastAPI)."""
    from rewardkit.serve.app import create_app as build

    return build(term, settings)
