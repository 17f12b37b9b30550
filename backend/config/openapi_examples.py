"""Examples for the OpenAPI document: what Swagger UI's "Try it out" fills in.

Without them Swagger builds bodies from each field's type ("string" for a country,
the same price in every money field, both ends of a price range equal). These are
bodies the API accepts and answers it really gives (the demo catalogue of
``make run`` has variant 1 and the demo customer); ``test_openapi_conformance``
checks every example against its schema.

Added by a post-processing hook, keyed by method and path, so the views stay as they
are. What does not belong here: the schemas themselves (serializers, ``utils.schema``).
"""

from __future__ import annotations

from typing import Any

SHIPPING_ADDRESS = {
    "name": "Grace Hopper",
    "line1": "Hauptstr. 1",
    "line2": "",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
    "phone": "",
}
ORDER_ID = "5b0c7f4e-3a51-4d8e-9a3c-1f2e3d4c5b6a"
CART_ID = "0f8e1d2c-3b4a-4c5d-8e7f-6a5b4c3d2e1f"

ORDER: dict[str, Any] = {
    "id": ORDER_ID,
    "number": "SO-20261201-00042",
    "status": "pending_payment",
    "email": "guest@example.com",
    "currency": "EUR",
    "lines": [
        {
            "id": 1,
            "variant_id": 1,
            "sku": "DEMO-00001-2",
            "name": "Classic Tee",
            "variant_name": "M",
            "unit_price": "19.90",
            "undiscounted_unit_price": "19.90",
            "quantity": 2,
            "discount": "3.98",
            "net": "30.10",
            "tax_rate": "19.00",
            "tax": "5.72",
            "line_total": "35.82",
        }
    ],
    "subtotal": "39.80",
    "discount": "3.98",
    "shipping": "4.90",
    "tax": "6.50",
    "total": "40.72",
    "prices_include_tax": True,
    "voucher_code": "WELCOME10",
    "discounts": [{"kind": "voucher", "code": "WELCOME10", "name": "WELCOME10", "amount": "3.98"}],
    "refunded_total": "0.00",
    "shipping_method": "standard",
    "shipping_address": SHIPPING_ADDRESS,
    "billing_address": None,
    "payment": {
        "id": "9d8c7b6a-5f4e-4d3c-9b2a-1e0f9a8b7c6d",
        "provider": "sandbox",
        "status": "pending",
        "amount": "40.72",
        "currency": "EUR",
    },
    "payment_deadline": "2026-12-01T12:30:00Z",
    "paid_at": None,
    "fulfilled_at": None,
    "cancelled_at": None,
    "carrier": "",
    "tracking_number": "",
    "created_at": "2026-12-01T12:00:00Z",
    "updated_at": "2026-12-01T12:00:00Z",
    "access_token": "gX2v9QkzY3m0b7h1T5c8Lr4Wn6Pj0Sd2Fa9Ue3Io7Ky",
}

CART: dict[str, Any] = {
    "id": CART_ID,
    "status": "open",
    "currency": "EUR",
    "items": [
        {
            "id": 1,
            "variant_id": 1,
            "sku": "DEMO-00001-2",
            "product_name": "Classic Tee",
            "product_slug": "classic-tee",
            "variant_name": "M",
            "quantity": 2,
            "unit_price": "19.90",
            "undiscounted_unit_price": "19.90",
            "discount": "3.98",
            "tax_rate": "19.00",
            "tax": "5.72",
            "line_total": "35.82",
            "currency": "EUR",
            "available": 25,
            "warnings": [],
        }
    ],
    "subtotal": "39.80",
    "summary": {
        "subtotal": "39.80",
        "discount": "3.98",
        "shipping": "4.90",
        "tax": "6.50",
        "total": "40.72",
        "currency": "EUR",
        "prices_include_tax": True,
        "tax_country": "DE",
        "tax_estimated": False,
        "shipping_method": "standard",
    },
    "voucher": {"code": "WELCOME10", "applied": True, "problem": None},
    "item_count": 2,
    "created_at": "2026-12-01T11:55:00Z",
    "updated_at": "2026-12-01T11:58:00Z",
}

# (method, path): {"request": {name: body}, "<status>": {name: body}}
EXAMPLES: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("post", "/api/v1/auth/register/"): {
        "request": {
            "A new customer": {"email": "ada@example.com", "password": "a-long-passphrase-2024"}
        },
    },
    ("post", "/api/v1/auth/token/"): {
        "request": {
            "The demo customer (make run)": {
                "email": "customer@example.com",
                "password": "demo-customer-password-2024",
            }
        },
    },
    ("post", "/api/v1/carts/{id}/items/"): {
        "request": {"Two of variant 1": {"variant_id": 1, "quantity": 2}},
        "200": {"The cart with the line": CART},
    },
    ("get", "/api/v1/carts/{id}/"): {
        "200": {"Priced for Germany, standard shipping, with WELCOME10": CART},
    },
    ("post", "/api/v1/carts/{id}/voucher/"): {
        "request": {"The demo voucher": {"code": "welcome10"}},
        "200": {"The cart with the voucher": CART},
    },
    ("get", "/api/v1/carts/{id}/shipping-methods/"): {
        "200": {
            "To Germany (seed_demo's EU zone)": [
                {
                    "code": "standard",
                    "name": "Standard",
                    "zone": "EU",
                    "price": "4.90",
                    "currency": "EUR",
                    "min_days": 2,
                    "max_days": 4,
                },
                {
                    "code": "express",
                    "name": "Express",
                    "zone": "EU",
                    "price": "12.90",
                    "currency": "EUR",
                    "min_days": 1,
                    "max_days": 2,
                },
            ]
        },
    },
    ("patch", "/api/v1/carts/{id}/items/{item_id}/"): {
        "request": {"Three instead": {"quantity": 3}},
    },
    ("post", "/api/v1/carts/{id}/checkout/"): {
        "request": {
            "A guest, paying with a sandbox card": {
                "email": "guest@example.com",
                "shipping_address": SHIPPING_ADDRESS,
                "billing_address": None,
                "shipping_method": "standard",
                "payment": {"provider": "sandbox", "token": "tok_visa"},
            },
            "A card the sandbox declines": {
                "email": "guest@example.com",
                "shipping_address": SHIPPING_ADDRESS,
                "billing_address": None,
                "shipping_method": "express",
                "payment": {"provider": "sandbox", "token": "tok_chargeDeclined"},
            },
        },
        "201": {"The new order (capture follows)": ORDER},
    },
    ("get", "/api/v1/orders/{id}/"): {
        "200": {
            "A paid order": {
                **ORDER,
                "status": "paid",
                "payment": {**ORDER["payment"], "status": "captured"},
                "paid_at": "2026-12-01T12:00:05Z",
                "updated_at": "2026-12-01T12:00:05Z",
                "access_token": None,
            }
        },
    },
    ("post", "/api/v1/orders/{id}/pay/"): {
        "request": {"Pay again with a sandbox card": {"provider": "sandbox", "token": "tok_visa"}},
    },
    ("post", "/api/v1/orders/{id}/cancel/"): {
        "request": {"With a reason": {"reason": "Ordered the wrong size."}},
    },
    ("post", "/api/v1/orders/{id}/fulfil/"): {
        "request": {"Shipped": {"carrier": "DHL", "tracking_number": "JD014600006281230704"}},
    },
    ("post", "/api/v1/orders/{id}/refund/"): {
        "request": {
            "Part of the amount": {"amount": "10.00", "reason": "Late delivery"},
            "All of it, back into stock": {
                "restock": True,
                "reason": "Returned",
                "lines": [{"sku": "DEMO-00001-2", "quantity": 2}],
            },
        },
    },
}

# Query parameters: a price range that is a range, over the demo catalogue's prices.
PARAMETER_EXAMPLES: dict[tuple[str, str], dict[str, str]] = {
    ("get", "/api/v1/products/"): {"min_price": "10.00", "max_price": "50.00"},
    ("get", "/api/v1/carts/{id}/"): {"country": "DE", "shipping_method": "standard"},
    ("get", "/api/v1/carts/{id}/shipping-methods/"): {"country": "DE"},
}


def _examples(bodies: dict[str, Any]) -> dict[str, Any]:
    return {
        f"example{i}": {"summary": name, "value": value}
        for i, (name, value) in enumerate(bodies.items(), start=1)
    }


def _paginated_examples(result: dict[str, Any]) -> None:
    """``next``/``previous`` of a list as on page 2 of that list, not DRF's ``/accounts/``."""
    schemas = result.get("components", {}).get("schemas", {})
    for path, item in result.get("paths", {}).items():
        response = item.get("get", {}).get("responses", {}).get("200", {})
        ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
        name = str(ref or "").rsplit("/", 1)[-1]
        if not name.startswith("Paginated") or "{" in path:
            continue
        properties = schemas[name]["properties"]
        properties["count"]["example"] = 45
        properties["next"]["example"] = f"https://shop.example.com{path}?page=3"
        properties["previous"]["example"] = f"https://shop.example.com{path}?page=1"


def postprocess_examples(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook: puts the examples above into the document."""
    paths = result.get("paths", {})
    for (method, path), examples in EXAMPLES.items():
        operation = paths.get(path, {}).get(method)
        if operation is None:
            continue
        for key, bodies in examples.items():
            if key == "request":
                content = operation.get("requestBody", {}).get("content", {})
            else:
                content = operation["responses"].get(key, {}).get("content", {})
            media = content.get("application/json")
            if media is not None:
                media["examples"] = _examples(bodies)
    for (method, path), values in PARAMETER_EXAMPLES.items():
        operation = paths.get(path, {}).get(method, {})
        for parameter in operation.get("parameters", []):
            if parameter.get("name") in values:
                parameter["schema"] = {**parameter["schema"], "example": values[parameter["name"]]}
    _paginated_examples(result)
    return result
