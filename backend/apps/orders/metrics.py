"""Checkout metrics (exported by ``/metrics`` with the rest of the default registry).

``storefront_checkout_stock_lock_seconds`` is how long a checkout holds its stock
row locks, from taking them to the commit. Every buyer of one variant queues on
that variant's row, so ``1 / hold time`` is the most checkouts per second one
variant can take, whatever the number of web processes (docs/scaling.md).
"""

from __future__ import annotations

import logging

from prometheus_client import Histogram

logger = logging.getLogger(__name__)

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
