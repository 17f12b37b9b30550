"""On the embedded SQLite default, concurrent checkouts neither oversell nor answer 500.

Real concurrency needs a database file: the unit tier's in-memory test database uses
SQLite's shared cache, where the busy timeout does not apply and locks fail at once.
So the test runs a child process against a temporary file with the project's own
SQLite settings (``IMMEDIATE`` transactions, 20 s busy timeout, WAL): it migrates,
then threads check out through the Django test client, each thread on its own
connection, which it closes. The child prints a JSON report; the test judges it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

BACKEND = Path(__file__).resolve().parents[2]
STOCK = 5
CARTS = 20
SAME_CART_CLICKS = 6


def test_concurrent_checkouts_on_sqlite_sell_each_unit_once(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.sqlite3'}",
        "PYTHONPATH": str(BACKEND),
    }
    result = subprocess.run(
        [sys.executable, "-m", "apps.orders.test_checkout_sqlite"],
        cwd=BACKEND,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])

    assert report["vendor"] == "sqlite"
    assert report["many_carts"] == {"201": STOCK, "409 out_of_stock": CARTS - STOCK}
    assert report["on_hand"] == 0
    assert report["ledger_sum"] == report["on_hand"]
    assert report["orders_for_many_carts"] == STOCK
    assert report["same_cart"] == {"201": 1, "409 invalid_state": SAME_CART_CLICKS - 1}
    assert report["orders_for_same_cart"] == 1


# --- the child process ------------------------------------------------------------------


def _stub_payments() -> None:
    """Publish nothing (the capture is not under test) and stand in for the capture task
    until the payments app provides it."""
    import types

    import workers.enqueue

    workers.enqueue.publish = lambda *args, **kwargs: True  # type: ignore[assignment]
    try:
        import apps.payments.tasks  # noqa: F401
    except ImportError:
        module = types.ModuleType("apps.payments.tasks")
        module.payment_capture_task = types.SimpleNamespace(name="capture")  # type: ignore[attr-defined]
        sys.modules["apps.payments.tasks"] = module


def _concurrently(urls: list[str]) -> Counter[str]:
    """POST a checkout to each URL at once, one thread and one connection each."""
    from django.db import connection
    from django.test import Client

    from apps.orders.factories import CHECKOUT_BODY

    barrier = threading.Barrier(len(urls))
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(url: str) -> None:
        try:
            client = Client()
            barrier.wait()
            response = client.post(url, CHECKOUT_BODY, content_type="application/json")
            code = "" if response.status_code == 201 else f" {response.json()['error']}"
            with lock:
                outcomes[f"{response.status_code}{code}"] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _child() -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    _stub_payments()

    from django.db import connection
    from django.db.models import Sum

    from apps.cart.factories import cart_create
    from apps.catalog.factories import variant_create
    from apps.catalog.models import Stock, StockMovement
    from apps.orders.factories import checkout_url
    from apps.orders.models import Order
    from apps.pricing.factories import shipping_default_create

    shipping_default_create()
    variant = variant_create(sku="LAST-FIVE", stock=STOCK)
    carts = [cart_create(lines=[(variant, 1)]) for _ in range(CARTS)]
    many = _concurrently([checkout_url(cart) for cart in carts])

    spare = variant_create(sku="SPARE", stock=10)
    one_cart = cart_create(lines=[(spare, 1)])
    same = _concurrently([checkout_url(one_cart)] * SAME_CART_CLICKS)

    ledger = StockMovement.objects.filter(variant=variant).aggregate(total=Sum("quantity"))
    return {
        "vendor": connection.vendor,
        "many_carts": dict(many),
        "on_hand": Stock.objects.get(variant=variant).on_hand,
        "ledger_sum": ledger["total"],
        "orders_for_many_carts": Order.objects.filter(lines__variant=variant).count(),
        "same_cart": dict(same),
        "orders_for_same_cart": Order.objects.filter(cart=one_cart).count(),
    }


if __name__ == "__main__":
    print(json.dumps(_child()))
