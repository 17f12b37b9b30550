"""Prepare the bench database in one Django process: migrate, find the endpoints, seed.

Run by ``bench/run.py`` with the production settings and the bench database in
the environment. Prints one JSON line: for each endpoint the benchmark uses,
the HTTP methods its route accepts (empty when it does not resolve yet),
whether ``seed_demo`` exists, and what it printed.
"""

from __future__ import annotations

import argparse
import io
import json
import sys

import django

ZERO_UUID = "00000000-0000-4000-8000-000000000000"
ENDPOINTS = {
    "products": "/api/v1/products/",
    "carts": "/api/v1/carts/",
    "cart": f"/api/v1/carts/{ZERO_UUID}/",
    "cart_items": f"/api/v1/carts/{ZERO_UUID}/items/",
    "checkout": f"/api/v1/carts/{ZERO_UUID}/checkout/",
    "order": f"/api/v1/orders/{ZERO_UUID}/",
}


def methods_of(path: str) -> list[str]:
    from django.urls import Resolver404, resolve

    try:
        match = resolve(path)
    except Resolver404:
        return []
    func = match.func
    actions = getattr(func, "actions", None)  # a DRF ViewSet route
    if actions:
        return sorted(method.upper() for method in actions)
    view_class = getattr(func, "view_class", None) or getattr(func, "cls", None)
    if view_class is not None:
        names = ("get", "post", "put", "patch", "delete")
        return sorted(n.upper() for n in names if hasattr(view_class, n))
    return ["GET", "POST"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--migrate", action="store_true")
    parser.add_argument("--seed-products", type=int, default=0)
    args = parser.parse_args()
    django.setup()
    from django.core.management import call_command, get_commands

    if args.migrate:
        call_command("migrate", interactive=False, verbosity=0)
    has_seed = "seed_demo" in get_commands()
    seed_output = ""
    if has_seed and args.seed_products:
        buffer = io.StringIO()
        call_command("seed_demo", products=args.seed_products, no_accounts=True, stdout=buffer)
        seed_output = buffer.getvalue().strip()
    found = {name: methods_of(path) for name, path in ENDPOINTS.items()}
    line = {"endpoints": found, "seed_demo": has_seed, "seed_output": seed_output}
    sys.stdout.write("\nBENCH_PREPARE " + json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
