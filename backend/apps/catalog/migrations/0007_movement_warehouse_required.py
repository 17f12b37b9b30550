"""Every movement names its warehouse (filled by 0006); the legacy stock table goes."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0006_stock_into_default_warehouse"),
    ]

    operations = [
        migrations.AlterField(
            model_name="stockmovement",
            name="warehouse",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="movements",
                to="catalog.warehouse",
            ),
        ),
        migrations.AddIndex(
            model_name="stockmovement",
            index=models.Index(fields=["variant", "warehouse"], name="catalog_sto_variant_wh_idx"),
        ),
        migrations.DeleteModel(name="LegacyStock"),
    ]
