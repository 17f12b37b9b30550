"""Redis SIGKILLed while a consumer holds an unacknowledged message and waits in BRPOP.

What Celery's consumer does on a lost connection, step by step with real kombu objects
and a real redis-server killed: ``Connection.collect`` closes the channel, whose pending
BRPOP read fails (so the channel stays open), then closes the transport (its ``client``
becomes ``None``); then ``Connection.close`` closes the channel again, under
``ignore_errors``, which swallows connection errors only. Without
``workers.broker_guard`` that second close raised ``AttributeError`` (seen in a worker
log as "Unrecoverable error": the main process exited)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kombu import Connection

from tests.test_nothing_lost import RedisServer
from workers.broker_guard import redis_transport_guard


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_closing_after_redis_died_mid_brpop_raises_only_errors_the_consumer_ignores(
    redis_server: RedisServer,
) -> None:
    redis_transport_guard()  # what importing workers.celery does in every worker
    connection = Connection(redis_server.url)
    queue = connection.SimpleQueue("guard-test")
    queue.put({"n": 1})
    message = queue.get(timeout=5)  # delivered, not acknowledged: held by the QoS
    assert message.payload == {"n": 1}
    channel = connection.default_channel
    channel._brpop_start()  # waiting in BRPOP, as the worker's event loop is
    assert redis_server.proc is not None
    redis_server.proc.kill()
    redis_server.proc.wait(timeout=10)

    # collect(): the channel's close fails reading the pending BRPOP (swallowed by
    # maybe_close_channel), the channel stays open, the transport is closed.
    with pytest.raises(connection.connection_errors):
        channel.close()
    assert not channel.closed
    connection._do_close_transport()

    # close() under ignore_errors: anything but a connection or channel error ends the
    # worker. With the guard, restoring the unacked message fails as a connection error.
    try:
        connection.close()
    except connection.connection_errors + connection.channel_errors:
        pass
