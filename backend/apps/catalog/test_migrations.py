"""The warehouse migrations (catalog 0005-0007) on data: stock rows and ledger movements
written before them end up in the default warehouse, each row still equal to the sum of
its movements, with no movement lost. Run with Django's ``MigrationExecutor`` from the
state before 0005 (everything that depends on it unapplied first), then forward again."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Sum

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("catalog", "0004_pricing_fields")]
AFTER = [("catalog", "0007_movement_warehouse_required")]


def _migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def test_stock_and_its_ledger_move_into_the_default_warehouse_without_losing_a_movement() -> None:
    latest = _latest()
    try:
        old = _migrate(BEFORE)
        Category = old.get_model("catalog", "Category")
        Product = old.get_model("catalog", "Product")
        Variant = old.get_model("catalog", "Variant")
        Stock = old.get_model("catalog", "Stock")
        StockMovement = old.get_model("catalog", "StockMovement")
        category = Category.objects.create(name="Mugs", slug="mugs")
        product = Product.objects.create(category=category, name="Mug", slug="mug")
        history = {"MUG-1": [10, -3, -2, 4], "MUG-2": [6, -6], "MUG-3": [1]}
        for position, (sku, quantities) in enumerate(history.items()):
            variant = Variant.objects.create(
                product=product, sku=sku, name=sku, price="9.00", position=position
            )
            Stock.objects.create(
                variant=variant, on_hand=sum(quantities), low_stock_threshold=position or None
            )
            for quantity in quantities:
                reason = "receive" if quantity > 0 else "sale"
                StockMovement.objects.create(variant=variant, quantity=quantity, reason=reason)
        Variant.objects.create(product=product, sku="MUG-4", name="none", price="9.00")

        new = _migrate(AFTER)

        Warehouse = new.get_model("catalog", "Warehouse")
        Stock = new.get_model("catalog", "Stock")
        StockMovement = new.get_model("catalog", "StockMovement")
        default = Warehouse.objects.get(code="default")
        assert list(Warehouse.objects.values_list("code", flat=True)) == ["default"]
        rows = {
            row.variant.sku: row for row in Stock.objects.select_related("variant", "warehouse")
        }
        assert {sku: row.on_hand for sku, row in rows.items()} == {
            sku: sum(quantities) for sku, quantities in history.items()
        }
        assert {row.warehouse_id for row in rows.values()} == {default.pk}
        assert [rows[sku].low_stock_threshold for sku in sorted(rows)] == [None, 1, 2]
        assert StockMovement.objects.count() == sum(len(q) for q in history.values())
        assert not StockMovement.objects.exclude(warehouse=default).exists()
        for row in rows.values():
            ledger = StockMovement.objects.filter(
                variant_id=row.variant_id, warehouse_id=row.warehouse_id
            ).aggregate(total=Sum("quantity"))["total"]
            assert ledger == row.on_hand, row.variant.sku
    finally:
        _migrate(latest)
