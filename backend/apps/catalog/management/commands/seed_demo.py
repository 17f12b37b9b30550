"""``manage.py seed_demo``: load the deterministic demo catalogue and the demo accounts
(the staff one in the ``Shop staff`` group, whose permissions let it work in the admin).

Idempotent: a second run creates nothing. ``--products N`` scales the catalogue
(bulk writes; 1000 products take a few seconds). The demo accounts have
published passwords, so without DEBUG they are created only with ``--force``.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.catalog.demo import demo_accounts_ensure, demo_catalogue_seed
from apps.pricing.demo import demo_pricing_seed

DEFAULT_PRODUCTS = 24
MAX_PRODUCTS = 100_000


def _product_count(value: str) -> int:
    count = int(value)
    if not 1 <= count <= MAX_PRODUCTS:
        raise ValueError(value)
    return count


class Command(BaseCommand):
    help = (
        "Load a deterministic demo catalogue (categories, products with variants, stock "
        "received through the ledger) and the demo accounts staff@example.com / "
        "demo-staff-password-2024 (in the 'Shop staff' group, with the admin permissions staff "
        "need) and customer@example.com / demo-customer-password-2024. "
        "Safe to run again: only what is missing is created."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--products",
            type=_product_count,
            default=DEFAULT_PRODUCTS,
            help=f"How many demo products to have (1..{MAX_PRODUCTS}, default {DEFAULT_PRODUCTS}).",
        )
        parser.add_argument(
            "--no-accounts", action="store_true", help="Do not create the demo accounts."
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Create the demo accounts even with DEBUG off (they have published passwords).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        result = demo_catalogue_seed(products=options["products"])
        self.stdout.write(
            f"Demo catalogue: {result.categories_created} categories, "
            f"{result.products_created} products, {result.variants_created} variants created; "
            f"{result.units_received} units received ({time.monotonic() - started:.1f}s)."
        )
        pricing = demo_pricing_seed()
        self.stdout.write(
            f"Demo pricing: {pricing.zones_created} shipping zones, {pricing.rates_created} "
            f"VAT rates created; voucher WELCOME10 "
            f"{'created' if pricing.voucher_created else 'already there'}; sale 'Mug week' "
            f"{'created' if pricing.sale_created else 'already there'}."
        )
        if options["no_accounts"]:
            return
        if not settings.DEBUG and not options["force"]:
            self.stdout.write(
                "Demo accounts not created: DEBUG is off and their passwords are public "
                "(pass --force to create them anyway)."
            )
            return
        for email, password, created in demo_accounts_ensure():
            state = "created" if created else "already there, password unchanged"
            self.stdout.write(f"Demo account {email} / {password} ({state})")
