"""A deterministic demo catalogue, demo accounts and the staff group, for ``manage.py seed_demo``.

Product ``i`` always gets the same name, slug, variants, prices and stock, so
re-running adds only what is missing (idempotent) and ``--products N`` scales
the same catalogue up for benchmarks. Rows are written in bulk; stock arrives
through the ledger (``stock_apply`` with reason ``receive``), so ``on_hand``
equals the sum of the movements from the start.

What does not belong here: anything a real shop runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q
from django.utils.text import slugify

from apps.accounts.models import User
from apps.catalog.models import Category, Product, Stock, StockMovement, Variant, Warehouse
from apps.catalog.stock import stock_apply, warehouse_default

T = TypeVar("T")
CHUNK = 500

DEMO_STAFF_EMAIL = "staff@example.com"
DEMO_STAFF_PASSWORD = "demo-staff-password-2024"
DEMO_CUSTOMER_EMAIL = "customer@example.com"
DEMO_CUSTOMER_PASSWORD = "demo-customer-password-2024"
STAFF_GROUP = "Shop staff"
# A second, lower-priority warehouse holding some of the stock, so that checkout splits
# lines and staff can ship parcels from either (issue 18).
NORTH_WAREHOUSE = {"code": "north", "name": "North warehouse", "priority": 10}
# What the shop's staff does in the admin: manage the catalogue, resolve stock drifts,
# and look at everything else (orders, payments, carts, emails, tasks, customers).
# Users are view-only: whoever may change a user may make anyone a superuser.
_VIEW = ("view",)
_MANAGE = ("view", "add", "change", "delete")
STAFF_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "catalog": {
        "category": _MANAGE,
        "product": _MANAGE,
        "variant": _MANAGE,
        "stock": _VIEW,
        "stockmovement": _VIEW,
    },
    "orders": {
        "order": _VIEW,
        "orderline": _VIEW,
        "orderevent": _VIEW,
        "fulfilment": _VIEW,
        "fulfilmentline": _VIEW,
    },
    "payments": {
        "payment": _VIEW,
        "refund": _VIEW,
        "webhookevent": _VIEW,
        "sandboxcharge": _VIEW,
        "sandboxrefund": _VIEW,
    },
    "cart": {"cart": _VIEW, "cartitem": _VIEW},
    "pricing": {
        "shippingzone": _MANAGE,
        "shippingmethod": _MANAGE,
        "taxclass": _MANAGE,
        "taxrate": _MANAGE,
        "voucher": _MANAGE,
        "voucherusage": _VIEW,
        "promotion": _MANAGE,
    },
    "notifications": {"emaillog": _VIEW},
    "ops": {
        "workerprobe": _VIEW,
        "queuesample": _VIEW,
        "taskretry": _VIEW,
        "stockdrift": ("view", "change"),
    },
    "accounts": {"user": _VIEW, "address": _VIEW},
    "django_celery_results": {"taskresult": _VIEW, "groupresult": _VIEW},
    "django_celery_beat": {"periodictask": _VIEW},
}

# (slug, name, parent slug): a two-level tree.
CATEGORIES: list[tuple[str, str, str | None]] = [
    ("apparel", "Apparel", None),
    ("t-shirts", "T-shirts", "apparel"),
    ("hoodies", "Hoodies", "apparel"),
    ("home", "Home", None),
    ("mugs", "Mugs", "home"),
    ("posters", "Posters", "home"),
    ("accessories", "Accessories", None),
    ("bags", "Bags", "accessories"),
    ("caps", "Caps", "accessories"),
]


@dataclass(frozen=True)
class Kind:
    """What products of a leaf category look like: a noun, a base price, variant options."""

    noun: str
    base_price: Decimal
    attribute: str
    options: tuple[tuple[str, Decimal], ...]  # (option, price step)


KINDS: dict[str, Kind] = {
    "t-shirts": Kind(
        "T-shirt",
        Decimal("19.90"),
        "size",
        (("S", Decimal("0")), ("M", Decimal("0")), ("L", Decimal("0")), ("XL", Decimal("2.00"))),
    ),
    "hoodies": Kind(
        "Hoodie",
        Decimal("49.00"),
        "size",
        (("S", Decimal("0")), ("M", Decimal("0")), ("L", Decimal("0")), ("XL", Decimal("3.00"))),
    ),
    "mugs": Kind(
        "Mug", Decimal("12.50"), "volume", (("300 ml", Decimal("0")), ("450 ml", Decimal("2.50")))
    ),
    "posters": Kind(
        "Poster",
        Decimal("15.00"),
        "format",
        (("A3", Decimal("0")), ("A2", Decimal("7.00")), ("A1", Decimal("15.00"))),
    ),
    "bags": Kind(
        "Tote bag",
        Decimal("14.90"),
        "colour",
        (("natural", Decimal("0")), ("black", Decimal("1.00"))),
    ),
    "caps": Kind(
        "Cap",
        Decimal("22.00"),
        "colour",
        (("navy", Decimal("0")), ("olive", Decimal("0")), ("black", Decimal("0"))),
    ),
}
LEAVES = list(KINDS)
ADJECTIVES = ["Classic", "Vintage", "Minimal", "Bold", "Retro", "Organic", "Midnight", "Sunny"]
THEMES = ["Mountain", "Ocean", "Forest", "City", "Galaxy", "Desert", "Harbour", "Meadow", "Aurora"]


@dataclass(frozen=True)
class VariantSpec:
    sku: str
    name: str
    attributes: dict[str, str]
    price: Decimal
    position: int
    stock: int
    north_stock: int = 0  # units in the north warehouse (every fourth product's first variant)


@dataclass(frozen=True)
class ProductSpec:
    slug: str
    name: str
    description: str
    category_slug: str
    variants: list[VariantSpec]


@dataclass
class SeedResult:
    categories_created: int = 0
    products_created: int = 0
    variants_created: int = 0
    units_received: int = 0


def _chunks(items: list[T], size: int = CHUNK) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def product_spec(index: int) -> ProductSpec:
    """Demo product number ``index`` (1-based): always the same."""
    leaf = LEAVES[index % len(LEAVES)]
    kind = KINDS[leaf]
    adjective = ADJECTIVES[index % len(ADJECTIVES)]
    theme = THEMES[(index // len(ADJECTIVES)) % len(THEMES)]
    name = f"{adjective} {theme} {kind.noun}"
    base = kind.base_price + Decimal(index % 5)
    variants = [
        VariantSpec(
            sku=f"DEMO-{index:05d}-{position + 1}",
            name=option,
            attributes={kind.attribute: option},
            price=base + step,
            position=position,
            # Every seventh variant starts sold out, so the shop shows both states.
            stock=0 if (index + position) % 7 == 0 else 5 + (index * 7 + position * 3) % 40,
            north_stock=3 + index % 5 if index % 4 == 0 and position == 0 else 0,
        )
        for position, (option, step) in enumerate(kind.options)
    ]
    return ProductSpec(
        slug=f"{slugify(name)}-{index:05d}",
        name=name,
        description=f"A {adjective.lower()} {kind.noun.lower()} with a {theme.lower()} print.",
        category_slug=leaf,
        variants=variants,
    )


def _ensure_categories() -> tuple[dict[str, Category], int]:
    created_count = 0
    by_slug: dict[str, Category] = {}
    for position, (slug, name, parent_slug) in enumerate(CATEGORIES):
        category, created = Category.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "parent": by_slug.get(parent_slug) if parent_slug else None,
                "position": position,
            },
        )
        by_slug[slug] = category
        created_count += int(created)
    return by_slug, created_count


def _ids_by(model: type[Product] | type[Variant], key: str, values: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(values):
        rows = model.objects.filter(**{f"{key}__in": chunk}).values_list(key, "id")
        found.update({str(value): pk for value, pk in rows})
    return found


@transaction.atomic
def demo_catalogue_seed(*, products: int) -> SeedResult:
    """Create whatever of demo products 1..``products`` is missing, with stock."""
    result = SeedResult()
    categories, result.categories_created = _ensure_categories()
    specs = [product_spec(index) for index in range(1, products + 1)]

    product_ids = _ids_by(Product, "slug", [spec.slug for spec in specs])
    new_products = [
        Product(
            category=categories[spec.category_slug],
            name=spec.name,
            slug=spec.slug,
            description=spec.description,
        )
        for spec in specs
        if spec.slug not in product_ids
    ]
    Product.objects.bulk_create(new_products, batch_size=CHUNK)
    result.products_created = len(new_products)
    if new_products:
        product_ids = _ids_by(Product, "slug", [spec.slug for spec in specs])

    wanted = {variant.sku: (spec, variant) for spec in specs for variant in spec.variants}
    variant_ids = _ids_by(Variant, "sku", list(wanted))
    new_variants = [
        Variant(
            product_id=product_ids[spec.slug],
            sku=variant.sku,
            name=variant.name,
            attributes=variant.attributes,
            price=variant.price,
            currency=settings.DEFAULT_CURRENCY,
            position=variant.position,
        )
        for sku, (spec, variant) in wanted.items()
        if sku not in variant_ids
    ]
    Variant.objects.bulk_create(new_variants, batch_size=CHUNK)
    result.variants_created = len(new_variants)
    if not new_variants:
        return result

    new_skus = [variant.sku for variant in new_variants]
    created_ids = _ids_by(Variant, "sku", new_skus)
    warehouse_id = warehouse_default().pk
    north_id = _north_warehouse().pk
    north_skus = [sku for sku in new_skus if wanted[sku][1].north_stock > 0]
    Stock.objects.bulk_create(
        [
            *(
                Stock(variant_id=created_ids[sku], warehouse_id=warehouse_id, on_hand=0)
                for sku in new_skus
            ),
            *(
                Stock(variant_id=created_ids[sku], warehouse_id=north_id, on_hand=0)
                for sku in north_skus
            ),
        ],
        batch_size=CHUNK,
    )
    receipts = [
        ((created_ids[sku], warehouse_id), wanted[sku][1].stock)
        for sku in new_skus
        if wanted[sku][1].stock > 0
    ] + [((created_ids[sku], north_id), wanted[sku][1].north_stock) for sku in north_skus]
    for chunk in _chunks(receipts):
        stock_apply(
            changes=dict(chunk),
            reason=StockMovement.Reason.RECEIVE,
            note="seed_demo receipt",
        )
    result.units_received = sum(quantity for _, quantity in receipts)
    return result


def _north_warehouse() -> Warehouse:
    warehouse, _ = Warehouse.objects.get_or_create(
        code=NORTH_WAREHOUSE["code"],
        defaults={
            "name": NORTH_WAREHOUSE["name"],
            "priority": NORTH_WAREHOUSE["priority"],
            "country": settings.DEFAULT_COUNTRY,
        },
    )
    return warehouse


def staff_group_ensure() -> Group:
    """The ``Shop staff`` group with exactly ``STAFF_PERMISSIONS`` (run again: same group)."""
    wanted = Q(pk__in=[])
    for app_label, models in STAFF_PERMISSIONS.items():
        for model, actions in models.items():
            wanted |= Q(
                content_type__app_label=app_label,
                codename__in=[f"{action}_{model}" for action in actions],
            )
    permissions = list(Permission.objects.filter(wanted))
    expected = sum(
        len(actions) for models in STAFF_PERMISSIONS.values() for actions in models.values()
    )
    if len(permissions) != expected:  # a model renamed or removed: say so, do not half-grant
        raise LookupError(f"{expected - len(permissions)} staff permissions do not exist")
    group, _ = Group.objects.get_or_create(name=STAFF_GROUP)
    group.permissions.set(permissions)
    return group


def demo_accounts_ensure() -> list[tuple[str, str, bool]]:
    """The demo staff user and customer, created only if missing: (email, password, created).

    The staff user is (also when it already existed) in the ``Shop staff`` group: staff
    status lets it into the admin, the group's permissions let it see and do things there.
    """
    accounts = [
        (DEMO_STAFF_EMAIL, DEMO_STAFF_PASSWORD, True),
        (DEMO_CUSTOMER_EMAIL, DEMO_CUSTOMER_PASSWORD, False),
    ]
    out: list[tuple[str, str, bool]] = []
    group = staff_group_ensure()
    for email, password, is_staff in accounts:
        created = False
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=password, is_staff=is_staff)
            created = True
        if is_staff:
            user.groups.add(group)
        out.append((email, password, created))
    return out
