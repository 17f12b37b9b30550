"""Allocations: which warehouse each order line's units came from.

Lines placed before warehouses existed took their stock from the one stock row
per variant, which 0006 in catalog moved into the warehouse ``default``; they get
one allocation there for their whole quantity.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import F, Q


def allocations_forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    OrderLine = apps.get_model("orders", "OrderLine")
    Allocation = apps.get_model("orders", "Allocation")
    Warehouse = apps.get_model("catalog", "Warehouse")
    if not OrderLine.objects.filter(variant__isnull=False).exists():
        return
    warehouse, _ = Warehouse.objects.get_or_create(
        code="default",
        defaults={"name": "Default warehouse", "country": settings.DEFAULT_COUNTRY, "priority": 0},
    )
    batch = []
    for line_id, quantity in (
        OrderLine.objects.filter(variant__isnull=False, quantity__gt=0)
        .order_by("pk")
        .values_list("pk", "quantity")
        .iterator(chunk_size=2000)
    ):
        batch.append(Allocation(line_id=line_id, warehouse_id=warehouse.pk, quantity=quantity))
        if len(batch) >= 2000:
            Allocation.objects.bulk_create(batch)
            batch = []
    Allocation.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0002_pricing_fields"),
        ("catalog", "0007_movement_warehouse_required"),
    ]

    operations = [
        migrations.CreateModel(
            name="Allocation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("quantity", models.PositiveIntegerField()),
                ("returned", models.PositiveIntegerField(default=0)),
                ("line", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="allocations", to="orders.orderline")),
                ("warehouse", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="allocations", to="catalog.warehouse")),
            ],
            options={
                "ordering": ["line_id", "id"],
                "constraints": [
                    models.CheckConstraint(condition=Q(returned__lte=F("quantity")), name="orders_allocation_returned_lte_qty"),
                ],
            },
        ),
        migrations.RunPython(allocations_forward, migrations.RunPython.noop),
    ]
