"""Keep a worker alive when Redis dies while it holds unacknowledged messages.

Found by ``tests/test_faults.py::test_redis_killed_and_restarted_under_load...`` on
kombu 5.7.0. When the Redis broker goes away while the worker has messages it has not
acknowledged yet (a capture in flight), Celery's consumer first collects the broken
connection (``kombu.Connection.collect``): reading the pending ``BRPOP`` fails, so the
channel is left open, and the transport is closed (its ``client`` becomes ``None``).
Celery then closes the connection; closing the channel restores the unacknowledged
messages, which builds a new connection pool from ``transport.client``, now ``None``.
The ``AttributeError`` that follows is not a connection error, so the worker's main
process exits with "Unrecoverable error" instead of reconnecting (under ``make up``
``workers.supervise`` would start it again; a bare worker stays down).

The guard makes "no client any more" the connection error it is
(``redis.exceptions.ConnectionError``, one of the transport's ``connection_errors``):
the close is then ignored as Celery intends, and the consumer reconnects. The messages
it could not restore were in the Redis that died; the re-dispatch sweeps send that work
again from the database rows (docs/operations.md, "Redis killed and restarted").
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import redis.exceptions
from kombu.transport import redis as kombu_redis

_MARK = "_storefront_guarded"


def redis_transport_guard() -> None:
    """Wrap the Redis channel's connection parameters once (idempotent)."""
    channel_class: Any = kombu_redis.Channel  # the type stubs do not know its internals
    original: Callable[..., dict[str, Any]] = channel_class._connparams
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def _connparams(self: Any, asynchronous: bool = False) -> dict[str, Any]:
        if getattr(self.connection, "client", None) is None:
            raise redis.exceptions.ConnectionError("the broker connection is already closed")
        return original(self, asynchronous=asynchronous)

    setattr(_connparams, _MARK, True)
    channel_class._connparams = _connparams
