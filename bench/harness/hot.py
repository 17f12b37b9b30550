"""The hot-variant experiment's helpers: lock-wait sampling, the hot row's stock, the summary.

``bench/run.py`` (``Bench.hot``) runs the two arms; what it measures beyond the
closed loop lives here: how many PostgreSQL backends of the bench database wait
on a heavyweight lock (a row lock shows as ``Lock``/``transactionid`` or
``tuple``), sampled from ``pg_stat_activity``, the hot variant's stock
against its ledger before and after each repetition, and how long checkouts
held their stock row locks (the product's ``storefront_checkout_stock_lock_seconds``
histogram, scraped from ``/metrics`` before and after each repetition).
"""

from __future__ import annotations

import math
import re
import threading
import urllib.request
from collections import Counter
from dataclasses import dataclass
from typing import Any

import psycopg

from harness import db
from harness.stats import median, ratio

ARMS = ("hot", "spread")
LOCK_SAMPLE_SQL = """
SELECT coalesce(wait_event, '?') FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'
"""


class LockWaitSampler:
    """Backends waiting on a lock, sampled every ``interval`` s in a thread.

    One connection, one cheap catalogue query per sample (~10 a second). Its
    backend is one of those ``Window`` charges as PostgreSQL CPU, the same in
    both arms.
    """

    def __init__(self, url: str, interval: float = 0.1) -> None:
        self.url = url
        self.interval = interval
        self.samples = 0
        self.failed = 0
        self.waiting: list[int] = []
        self.events: Counter[str] = Counter()
        self.done = threading.Event()
        self.conn: psycopg.Connection[Any] | None = None
        self.thread = threading.Thread(target=self._run, name="lock-sampler", daemon=True)

    def _sample(self) -> None:
        assert self.conn is not None
        try:
            rows = self.conn.execute(LOCK_SAMPLE_SQL).fetchall()
        except psycopg.Error:
            self.failed += 1
            return
        self.samples += 1
        self.waiting.append(len(rows))
        self.events.update(str(r[0]) for r in rows)

    def _run(self) -> None:
        while not self.done.wait(self.interval):
            self._sample()

    def __enter__(self) -> LockWaitSampler:
        self.conn = psycopg.connect(db.dsn_for(self.url), autocommit=True, connect_timeout=5)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join(timeout=5)
        if self.conn is not None:
            self.conn.close()

    def result(self) -> dict[str, Any]:
        n = len(self.waiting)
        return {
            "samples": self.samples,
            "failed_samples": self.failed,
            "interval_s": self.interval,
            "mean_waiting": sum(self.waiting) / n if n else None,
            "max_waiting": max(self.waiting) if n else None,
            "share_with_waiter": sum(1 for w in self.waiting if w) / n if n else None,
            "wait_events": dict(self.events),
        }


def stock_and_ledger(url: str, variant_id: int) -> tuple[int | None, int | None]:
    """``(on_hand, sum of its movements)`` of one variant over its warehouses: equal when
    the ledger holds."""
    with db.connect(url) as conn:
        row = conn.execute(
            """
            SELECT (SELECT sum(s.on_hand) FROM catalog_stock s WHERE s.variant_id = %s),
                   (SELECT coalesce(sum(m.quantity), 0) FROM catalog_stockmovement m
                    WHERE m.variant_id = %s)
            """,
            [variant_id, variant_id],
        ).fetchone()
    return (int(row[0]), int(row[1])) if row and row[0] is not None else (None, None)


def failed_by_status(errors: dict[str, int], step: str = "checkout") -> dict[str, int]:
    """``{"409": 3, ...}`` from a ``Recorder``'s ``{"checkout:409": 3, ...}``."""
    prefix = f"{step}:"
    found: Counter[str] = Counter()
    for key, count in errors.items():
        if key.startswith(prefix):
            found[key.removeprefix(prefix)] += count
    return dict(sorted(found.items()))


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per arm the medians over the repetitions, failed checkouts summed; hot / spread ratios.

    ``stock_lock_ceiling``: ``1000 / median mean hold (ms)`` of the hot arm, the most
    checkouts per second one variant's row can take while each holds it that long.
    """

    def med(rs: list[dict[str, Any]], get: Any) -> float | None:
        return median([get(r) for r in rs])

    medians: dict[str, dict[str, Any]] = {}
    failed: dict[str, dict[str, int]] = {}
    for label, rs in runs.items():
        medians[label] = {
            "orders_per_s": med(rs, lambda r: r["flows_per_s"]),
            "rps": med(rs, lambda r: r["rps"]),
            "checkout_p50_ms": med(rs, lambda r: r["steps"].get("checkout", {}).get("p50")),
            "checkout_p99_ms": med(rs, lambda r: r["steps"].get("checkout", {}).get("p99")),
            "cpu_ms_per_order": med(rs, lambda r: r["cpu_ms_per_flow"]),
            "db_cpu_ms_per_order": med(rs, lambda r: r["db_cpu_ms_per_flow"]),
            "lock_mean_waiting": med(rs, lambda r: r["lock_waits"]["mean_waiting"]),
            "lock_share_with_waiter": med(rs, lambda r: r["lock_waits"]["share_with_waiter"]),
            "lock_max_waiting": max(
                (r["lock_waits"]["max_waiting"] or 0 for r in rs), default=None
            ),
            **{
                f"stock_lock_{key}": med(
                    rs, lambda r, key=key: (r.get("stock_lock") or {}).get(key)
                )
                for key in ("count", "mean_ms", "p50_ms", "p99_ms", "row_occupancy")
            },
        }
        total: Counter[str] = Counter()
        for r in rs:
            total.update(r["checkout_failed"])
        failed[label] = dict(sorted(total.items()))
    hot, spread = medians.get("hot", {}), medians.get("spread", {})
    hold = hot.get("stock_lock_mean_ms")
    return {
        "median": medians,
        "failed_checkouts": failed,
        # One variant's row is locked by one checkout at a time: 1 / hold is its ceiling.
        "stock_lock_ceiling": {
            "mean_hold_ms": hold,
            "checkouts_per_s": 1000 / hold if hold else None,
            "hot_row_occupancy": hot.get("stock_lock_row_occupancy"),
        },
        "ratio": {
            "orders_per_s": ratio(hot.get("orders_per_s"), spread.get("orders_per_s")),
            "checkout_p50": ratio(hot.get("checkout_p50_ms"), spread.get("checkout_p50_ms")),
        },
        "ratios": [
            ratio(h["flows_per_s"], s["flows_per_s"])
            for h, s in zip(runs.get("hot", []), runs.get("spread", []), strict=False)
        ],
    }


# --- Stock lock hold time, from the product's own Prometheus histogram ---------------------

STOCK_LOCK_METRIC = "storefront_checkout_stock_lock_seconds"
METRICS_PATH = "/metrics"
_SAMPLE = re.compile(
    r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)"
)
_LE = re.compile(r'le="([^"]*)"')


@dataclass
class Histogram:
    """One scrape of a histogram: cumulative ``(le, count)`` buckets, ``_sum``, ``_count``.

    Label sets other than ``le`` are summed (``storefront_checkout_stock_lock_seconds``
    has none); with ``PROMETHEUS_MULTIPROC_DIR`` the scrape already sums the workers.
    """

    buckets: dict[float, float]
    sum: float
    count: float

    def minus(self, earlier: Histogram) -> Histogram:
        return Histogram(
            buckets={le: n - earlier.buckets.get(le, 0.0) for le, n in self.buckets.items()},
            sum=self.sum - earlier.sum,
            count=self.count - earlier.count,
        )


def scrape(port: int, token: str, timeout: float = 10.0) -> str:
    """The ``/metrics`` body of the server on 127.0.0.1:port, with the bearer token."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{METRICS_PATH}",
        headers={"Authorization": f"Bearer {token}"},  # no Accept: DRF would answer 406
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read().decode("utf-8")


def parse_histogram(text: str, name: str = STOCK_LOCK_METRIC) -> Histogram | None:
    """``name``'s samples in a text exposition; None when it has no ``_count`` sample."""
    buckets: dict[float, float] = {}
    total = {"sum": 0.0, "count": 0.0}
    seen_count = False
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            continue
        suffix = match["name"].removeprefix(name)
        value = float(match["value"])
        if suffix == "_bucket":
            le = _LE.search(match["labels"] or "")
            if le is None:
                continue
            bound = float(le[1])  # "+Inf" parses to inf
            buckets[bound] = buckets.get(bound, 0.0) + value
        elif suffix in ("_sum", "_count"):
            total[suffix[1:]] += value
            seen_count = seen_count or suffix == "_count"
    if not seen_count:
        return None
    return Histogram(buckets=dict(sorted(buckets.items())), sum=total["sum"], count=total["count"])


def bucket_quantile(hist: Histogram, q: float) -> float | None:
    """The q-quantile estimated from cumulative buckets, linear within the bucket (seconds).

    As Prometheus' ``histogram_quantile``: the first bucket's lower bound is 0, and a
    rank that falls in the ``+Inf`` bucket gives the highest finite bound.
    """
    total = hist.buckets.get(math.inf, hist.count)
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for le, cumulative in hist.buckets.items():
        if cumulative >= rank:
            if math.isinf(le):
                return lower
            if cumulative == below:
                return le
            return lower + (le - lower) * (rank - below) / (cumulative - below)
        lower, below = le, cumulative
    return lower


def stock_lock_stats(before: Histogram, after: Histogram) -> dict[str, Any]:
    """Count, mean and bucket-estimated p50/p99 (ms) of the checkouts between two scrapes."""
    delta = after.minus(before)
    count = round(delta.count)
    p50, p99 = bucket_quantile(delta, 0.50), bucket_quantile(delta, 0.99)
    return {
        "count": count,
        "sum_s": delta.sum,
        "mean_ms": delta.sum / delta.count * 1000 if delta.count > 0 else None,
        "p50_ms": None if p50 is None else p50 * 1000,
        "p99_ms": None if p99 is None else p99 * 1000,
        "quantiles": "bucket estimates (linear interpolation within the histogram bucket)",
    }


class StockLockProbe:
    """Scrapes ``storefront_checkout_stock_lock_seconds`` around one measured run.

    ``start()`` before, ``stop()`` after; ``stop()`` returns ``stock_lock_stats`` of the
    difference, or None (and ``error`` says why) when a scrape failed. Never raises.
    """

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.before: Histogram | None = None
        self.error: str | None = None

    def _take(self) -> Histogram | None:
        try:
            hist = parse_histogram(scrape(self.port, self.token))
        except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts are OSErrors
            self.error = f"{METRICS_PATH} scrape failed: {exc!r}"[:300]
            return None
        if hist is None:
            self.error = f"{METRICS_PATH} has no {STOCK_LOCK_METRIC}_count sample"
        return hist

    def start(self) -> None:
        self.error = None
        self.before = self._take()

    def stop(self) -> dict[str, Any] | None:
        if self.before is None:
            return None
        after = self._take()
        return None if after is None else stock_lock_stats(self.before, after)


def stock_lock_checks(label: str, rep: int, result: dict[str, Any]) -> list[str]:
    """Add ``row_occupancy`` (held seconds / run seconds) to ``result["stock_lock"]``; warnings.

    In the hot arm every checkout locks the same row, so true holds cannot overlap:
    an occupancy near 1 means the row was busy all the time (it set the pace), and
    above 1 that the histogram measures more than the hold (a bug to look into).
    """
    stats = result.get("stock_lock")
    if stats is None:
        return []
    elapsed = result.get("elapsed") or 0.0
    stats["row_occupancy"] = stats["sum_s"] / elapsed if elapsed else None
    found = []
    if stats["count"] != result.get("flows_ok"):
        found.append(
            f"{label} repetition {rep}: {stats['count']} stock lock observations "
            f"for {result.get('flows_ok')} orders"
        )
    occupancy = stats["row_occupancy"]
    if label == "hot" and occupancy is not None and occupancy > 1.02:
        found.append(
            f"hot repetition {rep}: the stock lock intervals add up to {occupancy:.2f} x the "
            "run time on one row, more than exclusive holds can: they measure something else"
        )
    return found


CACHE_METRIC = "storefront_catalog_cache_lookups_total"
_CACHE_SAMPLE = re.compile(CACHE_METRIC + r'\{result="(\w+)"\} (\S+)')


def cache_lookups(text: str) -> dict[str, float]:
    """Catalogue cache lookups by result (hit, miss, unavailable) in a text exposition."""
    return {m.group(1): float(m.group(2)) for m in _CACHE_SAMPLE.finditer(text)}


def cache_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """Lookups between two scrapes and the hit rate among them (None without lookups)."""
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in set(before) | set(after)}
    total = sum(delta.values())
    return {
        "lookups": {k: int(v) for k, v in sorted(delta.items())},
        "hit_rate": delta.get("hit", 0.0) / total if total else None,
    }
