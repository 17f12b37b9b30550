"""The hot-variant experiment's helpers: lock-wait sampling, the hot row's stock, the summary.

``bench/run.py`` (``Bench.hot``) runs the two arms; what it measures beyond the
closed loop lives here: how many PostgreSQL backends of the bench database wait
on a heavyweight lock (a row lock shows as ``Lock``/``transactionid`` or
``tuple``), sampled from ``pg_stat_activity``, and the hot variant's stock
against its ledger before and after each repetition.
"""

from __future__ import annotations

import threading
from collections import Counter
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
    """``(on_hand, sum of its movements)`` of one variant: equal when the ledger holds."""
    with db.connect(url) as conn:
        row = conn.execute(
            """
            SELECT s.on_hand,
                   (SELECT coalesce(sum(m.quantity), 0) FROM catalog_stockmovement m
                    WHERE m.variant_id = s.variant_id)
            FROM catalog_stock s WHERE s.variant_id = %s
            """,
            [variant_id],
        ).fetchone()
    return (int(row[0]), int(row[1])) if row else (None, None)


def failed_by_status(errors: dict[str, int], step: str = "checkout") -> dict[str, int]:
    """``{"409": 3, ...}`` from a ``Recorder``'s ``{"checkout:409": 3, ...}``."""
    prefix = f"{step}:"
    found: Counter[str] = Counter()
    for key, count in errors.items():
        if key.startswith(prefix):
            found[key.removeprefix(prefix)] += count
    return dict(sorted(found.items()))


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per arm the medians over the repetitions, failed checkouts summed; hot / spread ratios."""

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
        }
        total: Counter[str] = Counter()
        for r in rs:
            total.update(r["checkout_failed"])
        failed[label] = dict(sorted(total.items()))
    hot, spread = medians.get("hot", {}), medians.get("spread", {})
    return {
        "median": medians,
        "failed_checkouts": failed,
        "ratio": {
            "orders_per_s": ratio(hot.get("orders_per_s"), spread.get("orders_per_s")),
            "checkout_p50": ratio(hot.get("checkout_p50_ms"), spread.get("checkout_p50_ms")),
        },
        "ratios": [
            ratio(h["flows_per_s"], s["flows_per_s"])
            for h, s in zip(runs.get("hot", []), runs.get("spread", []), strict=False)
        ],
    }
