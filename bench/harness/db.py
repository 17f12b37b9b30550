"""PostgreSQL for the benchmark: the throw-away database and the reads the report needs.

Only the bench database (``storefront_bench`` by default) is dropped and
re-created; table names are Django's defaults for the project's models.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql


def dsn_for(url: str, dbname: str | None = None) -> str:
    parts = urlsplit(url)
    if dbname is not None:
        parts = parts._replace(path=f"/{dbname}")
    scheme = "postgresql" if parts.scheme in {"postgres", "postgresql", "pgsql"} else parts.scheme
    return urlunsplit(parts._replace(scheme=scheme))


def db_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


@contextlib.contextmanager
def connect(url: str, *, autocommit: bool = True) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(dsn_for(url), autocommit=autocommit, connect_timeout=5) as conn:
        yield conn


def recreate_database(url: str) -> None:
    name = db_name(url)
    if not name.startswith("storefront_bench"):
        raise ValueError(f"refusing to drop {name!r}: the bench database must be storefront_bench*")
    with psycopg.connect(dsn_for(url, "postgres"), autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def analyze(url: str) -> None:
    """Fresh planner statistics, as a database in service would have after autovacuum."""
    with connect(url) as conn:
        conn.execute("VACUUM (ANALYZE)")


def server_version(url: str) -> str:
    with connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def table_exists(conn: psycopg.Connection[Any], table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [table]).fetchone()
    return bool(row and row[0])


def count_rows(url: str, table: str) -> int | None:
    with connect(url) as conn:
        if not table_exists(conn, table):
            return None
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        ).fetchone()
    return int(row[0]) if row else 0


def variant_pool(url: str, *, limit: int, currency: str = "EUR") -> list[int]:
    """Active variants of active products that have a stock row, in a stable random order."""
    with connect(url) as conn:
        if not table_exists(conn, "catalog_variant"):
            return []
        rows = conn.execute(
            """
            SELECT v.id FROM catalog_variant v
            JOIN catalog_product p ON p.id = v.product_id
            WHERE v.is_active AND p.is_active AND v.currency = %s
              AND EXISTS (SELECT 1 FROM catalog_stock s WHERE s.variant_id = v.id)
            ORDER BY md5(v.id::text)
            LIMIT %s
            """,
            [currency, limit],
        ).fetchall()
    return [int(r[0]) for r in rows]


def restock(url: str, variant_ids: Sequence[int], *, on_hand: int) -> int:
    """Raise the stock of ``variant_ids`` to ``on_hand`` in every warehouse that holds them,
    through the ledger (a receive movement per stock row).

    Keeps the invariant ``Stock.on_hand == sum(movements)`` per (variant, warehouse);
    returns the rows changed.
    """
    if not variant_ids:
        return 0
    with connect(url, autocommit=False) as conn, conn.transaction():
        rows = conn.execute(
            """
            SELECT id, variant_id, warehouse_id, on_hand FROM catalog_stock
            WHERE variant_id = ANY(%s) AND on_hand < %s
            ORDER BY variant_id, warehouse_id FOR UPDATE
            """,
            [list(variant_ids), on_hand],
        ).fetchall()
        if not rows:
            return 0
        with conn.cursor() as cur:
            cur.executemany(
                """
                INSERT INTO catalog_stockmovement
                    (variant_id, warehouse_id, quantity, reason, note, created_at)
                VALUES (%s, %s, %s, 'receive', 'benchmark restock', now())
                """,
                [(vid, wid, on_hand - current) for _, vid, wid, current in rows],
            )
        conn.execute(
            "UPDATE catalog_stock SET on_hand = %s, updated_at = now() WHERE id = ANY(%s)",
            [on_hand, [r[0] for r in rows]],
        )
    return len(rows)


class BackendLister:
    """PostgreSQL server processes connected to the bench database, but not this one.

    Keeps one connection, since it is called every 0.5 s during a measured run.
    """

    def __init__(self, url: str) -> None:
        self.conn = psycopg.connect(dsn_for(url), autocommit=True, connect_timeout=5)

    def __call__(self) -> list[int]:
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
        return [int(r[0]) for r in rows]

    def close(self) -> None:
        self.conn.close()


def orders_state(url: str, order_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """status, created_at, paid_at of each order, and its payment statuses."""
    if not order_ids:
        return {}
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT id::text, status, created_at, paid_at FROM orders_order "
            "WHERE id::text = ANY(%s)",
            [list(order_ids)],
        ).fetchall()
        state: dict[str, dict[str, Any]] = {
            r[0]: {"status": r[1], "created_at": r[2], "paid_at": r[3], "payments": []}
            for r in rows
        }
        if table_exists(conn, "payments_payment"):
            for order_id, status in conn.execute(
                "SELECT order_id::text, status FROM payments_payment "
                "WHERE order_id::text = ANY(%s)",
                [list(order_ids)],
            ).fetchall():
                if order_id in state:
                    state[order_id]["payments"].append(status)
    return state


def task_failures_since(url: str, since: datetime) -> dict[str, int]:
    """Celery task results (django-celery-results) that ended badly since ``since``."""
    with connect(url) as conn:
        if not table_exists(conn, "django_celery_results_taskresult"):
            return {}
        rows = conn.execute(
            """
            SELECT coalesce(task_name, '?') || ':' || status, count(*)
            FROM django_celery_results_taskresult
            WHERE date_done >= %s AND status IN ('FAILURE', 'REVOKED')
            GROUP BY 1
            """,
            [since],
        ).fetchall()
    return {str(r[0]): int(r[1]) for r in rows}
