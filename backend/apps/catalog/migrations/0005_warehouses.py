"""Warehouses: stock becomes per (variant, warehouse) and every movement names one.

Today's one stock row per variant and every ledger movement move into the
warehouse ``default`` (created here), so each row's on_hand still equals the sum
of its ledger. The old table is renamed aside, its rows copied, then dropped.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Q



class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0004_pricing_fields"),
    ]

    operations = [
        migrations.CreateModel(
            name="Warehouse",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("code", models.SlugField(max_length=32, unique=True)),
                ("name", models.CharField(max_length=200)),
                ("country", models.CharField(help_text="ISO 3166-1 alpha-2 country code.", max_length=2)),
                ("priority", models.PositiveIntegerField(default=100, help_text="Lower ships first.")),
                ("is_active", models.BooleanField(default=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={"ordering": ["priority", "id"]},
        ),
        migrations.RemoveConstraint(model_name="stock", name="catalog_stock_on_hand_gte_0"),
        migrations.RenameModel(old_name="Stock", new_name="LegacyStock"),
        migrations.AlterField(
            model_name="legacystock",
            name="variant",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE,
                primary_key=True,
                related_name="+",
                serialize=False,
                to="catalog.variant",
            ),
        ),
        migrations.CreateModel(
            name="Stock",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("on_hand", models.IntegerField(default=0)),
                ("low_stock_threshold", models.PositiveIntegerField(blank=True, null=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("variant", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="stocks", to="catalog.variant")),
                ("warehouse", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="stocks", to="catalog.warehouse")),
            ],
            options={
                "ordering": ["variant_id", "warehouse_id"],
                "constraints": [
                    models.CheckConstraint(condition=Q(on_hand__gte=0), name="catalog_stock_on_hand_gte_0"),
                    models.UniqueConstraint(fields=("variant", "warehouse"), name="catalog_stock_variant_warehouse_uniq"),
                ],
            },
        ),
        migrations.AddField(
            model_name="stockmovement",
            name="warehouse",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="movements",
                to="catalog.warehouse",
            ),
        ),
    ]
