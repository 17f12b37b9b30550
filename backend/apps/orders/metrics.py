"""Checkout metrics (exported by ``/metrics`` with the rest of the default registry).

``storefront_checkout_stock_lock_seconds`` is how long a checkout holds its stock
row locks, from taking them to the commit. Every buyer of one variant queues on
that variant's row, so ``1 / hold time`` is the most checkouts per second one
variant can take, whatever the number of web processes (docs/scaling.md).
"""

from __future__ import annotations

import logging
import time
from types import TracebackType

from django.db import transaction
from prometheus_client import Counter, Histogram

logger = logging.getLogger(__name__)

CHECKOUTS = Counter(
    "storefront_checkouts",
    "Checkouts committed (orders placed); idempotent replays are not counted.",
)
STOCK_LOCK_SECONDS = Histogram(
    "storefront_checkout_stock_lock_seconds",
    "Time a successful checkout held its stock row locks, from locking them to the commit.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)


def stock_lock_observe(seconds: float) -> None:
    """Record one hold time; a metrics failure never fails the checkout."""
    try:
        STOCK_LOCK_SECONDS.observe(seconds)
    except Exception:  # telemetry must not break the request
        logger.warning("could not record the stock lock time", exc_info=True)


class StockLockTimer:
    """Times a checkout's hold on its stock rows: from ``locked()`` to the COMMIT.

    Enter it first thing inside the checkout's ``transaction.atomic()``: its on-commit
    hook is then the first to run after COMMIT (before publishing the capture task or
    bumping the catalogue cache), which is when the row locks are released. Waiting
    for the locks is not holding them, so the clock starts at ``locked()``; a checkout
    that rolls back records nothing.
    """

    def __init__(self) -> None:
        self._since: float | None = None

    def __enter__(self) -> StockLockTimer:
        transaction.on_commit(self._observe)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    def locked(self) -> None:
        self._since = time.perf_counter()

    def _observe(self) -> None:
        # The checkout committed: one more order placed.
        try:
            CHECKOUTS.inc()
        except Exception:  # telemetry must not break the request
            logger.warning("could not count the checkout", exc_info=True)
        if self._since is not None:
            stock_lock_observe(time.perf_counter() - self._since)
