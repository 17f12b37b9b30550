"""Data: today's stock rows and every ledger movement into the warehouse ``default``.

Each row's on_hand still equals the sum of its movements (same variant, same
warehouse). Reversible: the rows are summed back per variant.
"""

from django.conf import settings
from django.db import migrations

DEFAULT_CODE = "default"


def default_warehouse(apps):  # type: ignore[no-untyped-def]
    Warehouse = apps.get_model("catalog", "Warehouse")
    warehouse, _ = Warehouse.objects.get_or_create(
        code=DEFAULT_CODE,
        defaults={"name": "Default warehouse", "country": settings.DEFAULT_COUNTRY, "priority": 0},
    )
    return warehouse


def stock_forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Copy each legacy stock row and point each movement at the default warehouse."""
    LegacyStock = apps.get_model("catalog", "LegacyStock")
    Stock = apps.get_model("catalog", "Stock")
    StockMovement = apps.get_model("catalog", "StockMovement")
    warehouse = default_warehouse(apps)
    batch = []
    for row in LegacyStock.objects.order_by("variant_id").iterator(chunk_size=2000):
        batch.append(
            Stock(
                variant_id=row.variant_id,
                warehouse_id=warehouse.pk,
                on_hand=row.on_hand,
                low_stock_threshold=row.low_stock_threshold,
            )
        )
        if len(batch) >= 2000:
            Stock.objects.bulk_create(batch)
            batch = []
    Stock.objects.bulk_create(batch)
    StockMovement.objects.filter(warehouse__isnull=True).update(warehouse=warehouse)


def stock_backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Sum each variant's rows back into one (movements keep their warehouse column until
    the field is dropped)."""
    LegacyStock = apps.get_model("catalog", "LegacyStock")
    Stock = apps.get_model("catalog", "Stock")
    totals: dict[int, list[int | None]] = {}
    for row in Stock.objects.order_by("variant_id", "warehouse_id"):
        total = totals.setdefault(row.variant_id, [0, row.low_stock_threshold])
        total[0] = (total[0] or 0) + row.on_hand
    LegacyStock.objects.bulk_create(
        [
            LegacyStock(variant_id=vid, on_hand=on_hand, low_stock_threshold=threshold)
            for vid, (on_hand, threshold) in totals.items()
        ]
    )



class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0005_warehouses"),
    ]

    operations = [
        migrations.RunPython(stock_forward, stock_backward),
    ]
