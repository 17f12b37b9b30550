"""An unreachable cache fails open: throttles let requests through, the catalogue is
computed, the failure is counted, and the cache is left alone for a moment."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from utils import cache_guard


@pytest.fixture(autouse=True)
def _fresh_guard() -> Iterator[None]:
    cache_guard.cache_reset()
    yield
    cache_guard.cache_reset()


def _count(name: str, component: str) -> float:
    return REGISTRY.get_sample_value(name, {"component": component}) or 0.0


class _DownCache:
    """Every call fails as django-redis does when Redis is stopped."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

        return fail


@pytest.mark.django_db
def test_throttles_and_the_catalogue_fail_open_when_the_cache_is_down(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CATALOG_CACHE_SECONDS = 2.0
    settings.CACHE_RETRY_AFTER_SECONDS = 60.0
    failures = _count("storefront_cache_failures_total", "throttle")
    skipped = _count("storefront_cache_skipped_total", "throttle")
    down = _DownCache()
    with (
        mock.patch("utils.throttling.caches", {"default": down}),
        mock.patch("apps.catalog.cache.cache", down),
    ):
        client = APIClient()
        first = client.get("/api/v1/products/")
        second = client.get("/api/v1/products/")
    assert first.status_code == second.status_code == 200
    assert _count("storefront_cache_failures_total", "throttle") == failures + 1
    assert _count("storefront_cache_skipped_total", "throttle") > skipped  # rested after
    assert caplog.text.count("cache unavailable") == 1  # once per outage


def test_the_cache_is_tried_again_after_the_rest(settings: Any) -> None:
    settings.CACHE_RETRY_AFTER_SECONDS = 0.0
    cache_guard.cache_failed("throttle", ConnectionError("down"))
    assert cache_guard.cache_usable("throttle") is True
    settings.CACHE_RETRY_AFTER_SECONDS = 30.0
    cache_guard.cache_failed("throttle", ConnectionError("down"))
    assert cache_guard.cache_usable("throttle") is False
