"""The Redis transport guard (``workers.broker_guard``); the real fault is in
``tests/test_faults.py`` (Redis SIGKILLed while captures are in flight)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from kombu.transport import redis as kombu_redis

from workers.broker_guard import redis_transport_guard


def _channel(client: object) -> kombu_redis.Channel:
    channel = object.__new__(kombu_redis.Channel)  # no broker: only what _connparams reads
    channel.connection = SimpleNamespace(client=client, default_port=6379)
    return channel


def test_a_closed_transport_is_a_connection_error_the_consumer_recovers_from() -> None:
    redis_transport_guard()
    connection_errors, _ = kombu_redis.get_redis_error_classes()
    with pytest.raises(connection_errors) as raised:
        _channel(None)._connparams()
    assert not isinstance(raised.value, AttributeError)


def test_an_open_transport_gets_its_parameters_as_before() -> None:
    from kombu import Connection

    redis_transport_guard()
    params = _channel(Connection("redis://127.0.0.1:6390/3"))._connparams()
    assert (params["host"], params["port"], params["db"]) == ("127.0.0.1", 6390, 3)


def test_the_guard_wraps_once() -> None:
    redis_transport_guard()
    wrapped = kombu_redis.Channel._connparams
    redis_transport_guard()
    assert kombu_redis.Channel._connparams is wrapped
