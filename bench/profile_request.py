"""Profile requests in-process with cProfile (stdlib only) against the bench database.

Runs the same Django application as gunicorn (``config.settings.prod``, the bench
database and Redis, huge throttles) through Django's test client, so the profile
has no network and no gunicorn in it: only the view, middleware, ORM and
serializers. Run ``make bench`` (or ``bench/run.py --smoke``) once first so the
bench database exists and is seeded, then for example::

    .venv/bin/python bench/profile_request.py products            # GET /api/v1/products/
    .venv/bin/python bench/profile_request.py flow -n 50          # the S2 guest flow
    .venv/bin/python bench/profile_request.py get /api/v1/products/?page=7

Prints the top functions by own time and by cumulative time, and saves the raw
profile (``bench/out/profile-<what>.prof``) for ``python -m pstats`` or snakeviz.
See ``bench/profile.md``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from harness.flows import CHECKOUT_BODY  # noqa: E402
from harness.servers import BACKEND, service_env  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/storefront_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"


def setup_django() -> None:
    """Set Django up in this process as the bench's gunicorn runs it (bench/tricks.py too)."""
    env = service_env(
        os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB),
        os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS),
    )
    # The server's whole environment (payment providers and their secrets included):
    # a key left out makes the production settings refuse.
    os.environ.update({key: value for key, value in env.items() if key != "PYTHONPATH"})
    sys.path.insert(0, str(BACKEND))
    import django

    django.setup()


def variants(limit: int = 1000) -> list[int]:
    from harness import db

    return db.variant_pool(os.environ["DATABASE_URL"], limit=limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["products", "flow", "get"])
    parser.add_argument("path", nargs="?", default="/api/v1/products/")
    parser.add_argument("-n", type=int, default=200, help="requests (flows for 'flow')")
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args()
    setup_django()
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    pool = variants()
    rng = random.Random(1)

    def check(response: Any) -> Any:
        if not 200 <= response.status_code < 300:
            raise SystemExit(f"{response.status_code}: {response.content[:300]!r}")
        return response

    def flow() -> None:
        cart = check(client.post("/api/v1/carts/", {}, content_type="application/json")).json()
        for variant_id in rng.sample(pool, 3):
            check(
                client.post(
                    f"/api/v1/carts/{cart['id']}/items/",
                    {"variant_id": variant_id, "quantity": 1},
                    content_type="application/json",
                )
            )
        check(
            client.post(
                f"/api/v1/carts/{cart['id']}/checkout/",
                json.dumps(CHECKOUT_BODY),
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
            )
        )

    path = "/api/v1/products/" if args.what == "products" else args.path

    def one() -> None:
        if args.what == "flow":
            flow()
        else:
            check(client.get(path))

    for _ in range(5):  # warm caches, connections and imports outside the profile
        one()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    cpu_started = time.process_time()
    profiler.enable()
    for _ in range(args.n):
        one()
    profiler.disable()
    wall = (time.perf_counter() - started) * 1000 / args.n
    cpu = (time.process_time() - cpu_started) * 1000 / args.n
    unit = "flow" if args.what == "flow" else "request"
    print(f"{args.n} x {args.what} {path if args.what != 'flow' else ''}")
    print(f"per {unit}: {wall:.1f} ms wall, {cpu:.1f} ms CPU (with cProfile's overhead)")
    out = BENCH / "out"
    out.mkdir(exist_ok=True)
    target = out / f"profile-{args.what}.prof"
    profiler.dump_stats(target)
    for order in ("tottime", "cumulative"):
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).sort_stats(order).print_stats(args.top)
        print(f"\n=== top {args.top} by {order} ===")
        print(buffer.getvalue().split("\n", 6)[-1])
    print(f"raw profile: {target.relative_to(BENCH.parent)}")


if __name__ == "__main__":
    main()
