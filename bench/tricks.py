"""Each performance trick measured alone: CPU time with the trick and without, in-process.

A trick that makes code harder to read stays only with its own row in
``bench/profile.md``; this is how that row is measured. Every measurement runs the
same code twice in one process, the trick on and off in alternating batches, and
reports the median CPU microseconds (``time.process_time``, so other load on the
machine stretches it less than wall time) of each, and the saving as a share of
the CPU a request of that kind costs (``request`` measures that, on the bench
database, through Django's test client and the production settings)::

    .venv/bin/python bench/tricks.py all                 # every trick, then the request costs
    .venv/bin/python bench/tricks.py request /api/v1/products/ -n 2000

Run ``make bench`` or ``make bench-smoke`` once first, so that the bench database
exists and is seeded (``BENCH_DATABASE_URL``, ``BENCH_REDIS_URL`` as for the bench).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from harness.flows import CHECKOUT_BODY  # noqa: E402
from profile_request import setup_django  # noqa: E402  (the same bench server environment)

BATCHES = 9


def cpu_us(fn: Callable[[], Any], n: int) -> float:
    """CPU microseconds per call of ``fn``, one batch of ``n`` calls."""
    started = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - started) * 1e6 / n


def ab(with_trick: Callable[[], Any], without: Callable[[], Any], n: int) -> tuple[float, float]:
    """Median CPU us per call with and without the trick, batches alternating."""
    for fn in (with_trick, without):  # warm both
        cpu_us(fn, max(1, n // 10))
    on, off = [], []
    for _ in range(BATCHES):
        on.append(cpu_us(with_trick, n))
        off.append(cpu_us(without, n))
    return statistics.median(on), statistics.median(off)


def ab_swapped(
    owner: Any, name: str, trick: Any, plain: Any, run: Callable[[], Any], n: int
) -> tuple[float, float]:
    """``ab`` of ``run`` with ``owner.name`` set to ``trick`` and to ``plain``, batches
    alternating; ``owner.name`` is put back afterwards."""
    kept = getattr(owner, name)

    def arm(value: Any) -> Callable[[], None]:
        def one() -> None:
            setattr(owner, name, value)
            run()

        return one

    try:
        return ab(arm(trick), arm(plain), n)
    finally:
        setattr(owner, name, kept)


# --- the tricks -------------------------------------------------------------------------


def router_order(n: int) -> tuple[float, float]:
    """Resolving the two hottest paths with the routes in traffic order, and alphabetically."""
    from django.urls import URLResolver, get_resolver
    from django.urls.resolvers import RegexPattern

    resolver = get_resolver()
    api: URLResolver = next(
        p for p in resolver.url_patterns if isinstance(p, URLResolver) and "api" in str(p.pattern)
    )
    alphabetical = sorted(api.url_patterns, key=lambda p: str(p.pattern))
    paths = ["products/", f"carts/{uuid.uuid4()}/items/"]

    def resolve_with(patterns: list[Any]) -> Callable[[], None]:
        sub = URLResolver(RegexPattern(r"^"), patterns)

        def run() -> None:
            for path in paths:
                sub.resolve(path)

        return run

    return ab(resolve_with(list(api.url_patterns)), resolve_with(alphabetical), n)


def lazy_messages(n: int) -> tuple[float, float]:
    from django.contrib.messages.middleware import MessageMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.http import HttpResponse
    from django.test import RequestFactory

    from utils.middleware import LazyMessageMiddleware

    factory = RequestFactory()
    response = HttpResponse(b"{}")
    sessions = SessionMiddleware(lambda request: response)

    def run(middleware_class: type[MessageMiddleware]) -> Callable[[], None]:
        middleware = middleware_class(lambda request: response)

        def one() -> None:
            request = factory.get("/api/v1/products/")
            sessions.process_request(request)
            middleware.process_request(request)
            middleware.process_response(request, response)

        return one

    return ab(run(LazyMessageMiddleware), run(MessageMiddleware), n)


def catalog_batch(n: int) -> tuple[float, float]:
    """A cached product page with its reads in the throttle's pipeline, and with its own MGET."""
    from django.test import Client

    from apps.catalog import views

    client = Client(HTTP_HOST="127.0.0.1")
    announce = views.catalog_reads_announce

    def get(hook: Callable[..., None]) -> Callable[[], None]:
        def one() -> None:
            views.catalog_reads_announce = hook  # type: ignore[assignment]
            assert client.get("/api/v1/products/").status_code == 200

        return one

    try:
        return ab(get(announce), get(lambda request: None), n)
    finally:
        views.catalog_reads_announce = announce


def serializer_page(view: Any, request: Any) -> Any:
    """The product list as it was computed before "product pages from rows": model
    instances with their variants prefetched, ``ProductOutputSerializer``."""
    from apps.catalog import selectors
    from apps.catalog.serializers import ProductOutputSerializer

    page = view.paginate_queryset(view.filter_queryset(view.get_queryset()))
    view.prices_valid_until = selectors.product_prices_apply(page)
    return view.get_paginated_response(ProductOutputSerializer(page, many=True).data)


def computed_page(
    path: str = "/api/v1/products/", *, content_cache: bool = True
) -> Callable[[], None]:
    """One computed product page (response cache off) through the whole stack, with the
    content cache (``apps/catalog/page_data.py``) as configured or off."""
    from django.conf import settings
    from django.test import Client, override_settings

    client = Client(HTTP_HOST="127.0.0.1")
    data = settings.CATALOG_DATA_CACHE_SECONDS if content_cache else 0

    def one() -> None:
        with override_settings(CATALOG_CACHE_SECONDS=0, CATALOG_DATA_CACHE_SECONDS=data):
            assert client.get(path).status_code == 200

    return one


def page_rows(n: int) -> tuple[float, float]:
    """A computed product page from dict rows and ``product_output``, and from models and
    ``ProductOutputSerializer`` (both without the content cache)."""
    from apps.catalog.views import ProductViewSet

    rows = ProductViewSet._page
    one = computed_page(content_cache=False)
    return ab_swapped(ProductViewSet, "_page", rows, serializer_page, one, n)


def content_cache(n: int) -> tuple[float, float]:
    """A computed product page with its content (variants, categories, promotions, the
    count) from the content cache, and all from the database."""
    return ab(computed_page(), computed_page(content_cache=False), n)


def stored_pages(n: int) -> tuple[float, float]:
    """A computed product page with the list page kept by content version (answers and
    count: only the stock read), and with only its parts kept (variants, categories,
    promotions, the count: the page query and the pricing run)."""
    from dataclasses import replace

    from apps.catalog import views

    kept = views.known_list

    def parts_only(*args: Any, **kwargs: Any) -> Any:
        return replace(kept(*args, **kwargs), page=None)

    return ab_swapped(views, "known_list", kept, parts_only, computed_page(), n)


def availability_sql(n: int) -> tuple[float, float]:
    """A computed page (content cached) with its stock read by the plain statement, and by
    the same query through the ORM."""
    from django.db.models import Max, Sum

    from apps.catalog import rows
    from apps.catalog.models import Stock

    plain = rows.variant_availability

    def orm(product_ids: Any, *, include_inactive: bool = False) -> dict[int, tuple[int, bool]]:
        stock = Stock.objects.filter(variant__product_id__in=product_ids, warehouse__is_active=True)
        if not include_inactive:
            stock = stock.filter(variant__is_active=True)
        rows = (
            stock.order_by()
            .values("variant_id")
            .annotate(total=Sum("on_hand"), top=Max("on_hand"))
            .values_list("variant_id", "total", "top")
        )
        return {vid: (total, top > 0) for vid, total, top in rows}

    return ab_swapped(rows, "variant_availability", plain, orm, computed_page(), n)


def serializer_answers() -> Callable[[bool], None]:
    """A switch between the cart and order answers built by hand (``apps/cart/output.py``,
    ``apps/orders/output.py``: row "cart and order answers built by hand") and the output
    serializers the views called before (``CartOutputSerializer``, ``OrderOutputSerializer``
    with checkout's context)."""
    from apps.cart import views as cart_views
    from apps.cart.serializers import CartOutputSerializer
    from apps.orders import views as order_views
    from apps.orders.serializers import OrderOutputSerializer

    built = (cart_views.cart_output, order_views.order_output)

    def cart_serialized(detail: Any) -> Any:
        return CartOutputSerializer(detail).data

    def order_serialized(order: Any, **context: Any) -> Any:
        context = {name: value for name, value in context.items() if value is not None}
        return OrderOutputSerializer(order, context=context).data

    def use(by_hand: bool) -> None:
        cart, order = built if by_hand else (cart_serialized, order_serialized)
        cart_views.cart_output = cart
        order_views.order_output = order

    return use


def answers_built(n: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """The five answers of an S2 order built from the objects the views had (a cart, three
    carts with lines, checkout's order), then rendered: by hand vs by the serializers; and
    the whole S2 flow (n orders a batch) with either."""
    from apps.cart import views as cart_views
    from apps.cart.output import cart_output
    from apps.cart.serializers import CartOutputSerializer
    from apps.orders import views as order_views
    from apps.orders.output import order_output
    from apps.orders.serializers import OrderOutputSerializer
    from utils.renderers import JSONRenderer

    seen: list[tuple[str, Any, dict[str, Any]]] = []

    def keep_cart(detail: Any) -> Any:
        seen.append(("cart", detail, {}))
        return cart_output(detail)

    def keep_order(order: Any, **context: Any) -> Any:
        seen.append(("order", order, context))
        return order_output(order, **context)

    use = serializer_answers()
    cart_views.cart_output = keep_cart
    order_views.order_output = keep_order
    try:
        _flow_answers()
    finally:
        use(True)
    assert [kind for kind, _, _ in seen] == ["cart"] * 4 + ["order"], seen
    renderer = JSONRenderer()

    def by_hand() -> list[bytes]:
        return [
            renderer.render(
                cart_output(obj) if kind == "cart" else order_output(obj, **context),
                "application/json",
            )
            for kind, obj, context in seen
        ]

    def serialized() -> list[bytes]:
        out = []
        for kind, obj, context in seen:
            if kind == "cart":
                data = CartOutputSerializer(obj).data
            else:
                given = {name: value for name, value in context.items() if value is not None}
                data = OrderOutputSerializer(obj, context=given).data
            out.append(renderer.render(data, "application/json"))
        return out

    assert by_hand() == serialized()  # the same bytes (test_output.py checks many more)
    answers = ab(by_hand, serialized, n * 50)
    flow = flow_once()

    def flow_with(by_hand: bool) -> Callable[[], None]:
        def run() -> None:
            use(by_hand)
            flow()

        return run

    try:
        whole = ab(flow_with(True), flow_with(False), n)
    finally:
        use(True)
    return answers, whole


# --- what a request costs ------------------------------------------------------------------


def _flow_answers() -> list[Any]:
    """The data of the five answers of one S2 flow (a cart, three carts with lines, an order)."""
    import random

    from django.test import Client

    from apps.catalog.models import Stock

    client = Client(HTTP_HOST="127.0.0.1")
    pool = list(Stock.objects.filter(on_hand__gt=1000).values_list("variant_id", flat=True)[:50])
    answers = [client.post("/api/v1/carts/", {}, content_type="application/json")]
    cart = answers[0].json()
    for variant_id in random.Random(1).sample(pool, 3):
        answers.append(
            client.post(
                f"/api/v1/carts/{cart['id']}/items/",
                {"variant_id": variant_id, "quantity": 1},
                content_type="application/json",
            )
        )
    answers.append(
        client.post(
            f"/api/v1/carts/{cart['id']}/checkout/",
            json.dumps(CHECKOUT_BODY),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
    )
    return [answer.data for answer in answers]


def orjson_renderer(n: int) -> tuple[float, float]:
    """Rendering the five answers of one S2 flow: orjson (``utils.renderers``) vs DRF's."""
    from rest_framework.renderers import JSONRenderer as DrfRenderer

    from utils.renderers import JSONRenderer

    answers = _flow_answers()
    ours, drf = JSONRenderer(), DrfRenderer()
    assert [ours.render(a, "application/json") for a in answers] == [
        drf.render(a, "application/json") for a in answers
    ]
    return ab(
        lambda: [ours.render(a, "application/json") for a in answers],
        lambda: [drf.render(a, "application/json") for a in answers],
        n,
    )


def request_cpu_us(path: str, n: int) -> float:
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")

    def one() -> None:
        response = client.get(path)
        assert response.status_code == 200, response.content[:200]

    cpu_us(one, max(1, n // 10))
    return statistics.median(cpu_us(one, n) for _ in range(BATCHES))


def flow_cpu_us(n: int) -> float:
    """The S2 guest flow (create cart, add 3 lines, check out): CPU us per order."""
    one = flow_once()
    cpu_us(one, 3)
    return statistics.median(cpu_us(one, n) for _ in range(5))


def flow_once() -> Callable[[], None]:
    """One S2 guest flow (create cart, add 3 lines, check out) through Django's test client."""
    import random

    from django.test import Client

    from apps.catalog.models import Stock

    client = Client(HTTP_HOST="127.0.0.1")
    pool = list(
        Stock.objects.filter(on_hand__gt=1000).values_list("variant_id", flat=True)[:500]
    ) or list(Stock.objects.values_list("variant_id", flat=True)[:500])
    rng = random.Random(1)

    def one() -> None:
        cart = client.post("/api/v1/carts/", {}, content_type="application/json").json()
        for variant_id in rng.sample(pool, 3):
            client.post(
                f"/api/v1/carts/{cart['id']}/items/",
                {"variant_id": variant_id, "quantity": 1},
                content_type="application/json",
            )
        response = client.post(
            f"/api/v1/carts/{cart['id']}/checkout/",
            json.dumps(CHECKOUT_BODY),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
        assert response.status_code == 201, response.content[:300]

    return one


def pricing_reference(n: int) -> tuple[float, float]:
    """The S2 flow with the pricing rule tables kept per process (``apps/pricing/
    reference.py``) and read from the database on every use, n orders per batch."""
    from django.test import override_settings

    one = flow_once()

    def arm(seconds: float) -> Callable[[], None]:
        def run() -> None:
            with override_settings(PRICING_REFERENCE_CACHE_SECONDS=seconds):
                one()

        return run

    return ab(arm(2.0), arm(0.0), n)


def orm_shortcuts() -> Callable[[bool], None]:
    """Switch the ORM shortcuts of the order path on (True) or off: rows "lines queries
    built once" and "stock written in one plain statement". Off builds the three queries
    on every call (the lines with every column) and writes the stock with
    ``bulk_update``, as before them."""
    from apps.cart import selectors
    from apps.cart.models import CartItem
    from apps.catalog import stock
    from apps.catalog.models import Stock
    from apps.catalog.selectors import available_expression
    from apps.orders import checkout

    def lines_every_time() -> Any:  # the lines query as it was: every column, built per call
        return (
            CartItem.objects.select_related("variant__product__tax_class")
            .annotate(available=available_expression("variant_id"))
            .order_by("id")
        )

    def checkout_lines_every_time() -> Any:  # checkout's, as it was
        return CartItem.objects.select_related("variant__product__tax_class").order_by("variant_id")

    cached = [(stock, "_locking_rows")]
    kept = {(owner, name): getattr(owner, name) for owner, name in cached}
    lines_kept = selectors._lines_with_stock
    checkout_kept = checkout._lines_query
    plain_write = stock._on_hand_write

    def bulk_write(rows: list[Any]) -> None:
        Stock.objects.bulk_update(rows, ["on_hand"])

    def use(on: bool) -> None:
        for (owner, name), built_once in kept.items():
            setattr(owner, name, built_once if on else built_once.__wrapped__)
        selectors._lines_with_stock = lines_kept if on else lines_every_time
        checkout._lines_query = checkout_kept if on else checkout_lines_every_time
        stock._on_hand_write = plain_write if on else bulk_write

    return use


def orm_tricks(n: int) -> None:
    """Rows "lines queries built once" and "stock written in one plain statement": the S2
    flow in one process (n orders a batch, arms alternating), and the Python calls per
    request, with both shortcuts and without them."""
    from apps.catalog import stock

    use = orm_shortcuts()
    counts = {}
    for on in (False, True):
        use(on)
        counts[on] = flow_calls()
    for on, label in ((True, "with"), (False, "without")):
        per = ", ".join(f"{k} {v:.0f}" for k, v in counts[on].items())
        print(f"S2 Python calls per request, {label} the ORM shortcuts: {per}")
    one = flow_once()

    def arm(on: bool, write_only: bool = False) -> Callable[[], None]:
        def run() -> None:
            use(True)
            if not on:
                use(False)
                if write_only:  # only the stock write off: the queries stay built once
                    use(True)
                    stock._on_hand_write = plain_off
            one()

        return run

    use(False)
    plain_off = stock._on_hand_write
    use(True)
    try:
        both = ab(arm(True), arm(False), n)
        write = ab(arm(True), arm(False, write_only=True), n)
    finally:
        use(True)
    print(f"S2 flow: {both[0]:.0f} us per order with both shortcuts, {both[1]:.0f} without")
    print(f"S2 flow: {write[0]:.0f} us with the plain stock write, {write[1]:.0f} with bulk_update")


def flow_calls(flows: int = 6) -> dict[str, float]:
    """Python function calls (and C calls) per request of the S2 flow: a count that other
    load on the machine does not change, beside the CPU time it does (median over the
    flows, the first flows' warm-up left out)."""
    import random

    from django.test import Client

    from apps.catalog.models import Stock

    client = Client(HTTP_HOST="127.0.0.1")
    pool = list(Stock.objects.filter(on_hand__gt=1000).values_list("variant_id", flat=True)[:500])
    rng = random.Random(3)
    calls = [0]

    def count(frame: Any, event: str, arg: Any) -> None:
        if event in ("call", "c_call"):
            calls[0] += 1

    def post(path: str, body: Any, **extra: Any) -> tuple[Any, int]:
        """The answer to one POST, and the calls it took."""
        calls[0] = 0
        sys.setprofile(count)
        try:
            response = client.post(path, body, content_type="application/json", **extra)
        finally:
            sys.setprofile(None)
        assert 200 <= response.status_code < 300, response.content[:300]
        return response, calls[0]

    seen: dict[str, list[int]] = {"create": [], "add": [], "checkout": []}
    for _ in range(flows):
        response, n = post("/api/v1/carts/", {})
        cart_id = response.json()["id"]
        seen["create"].append(n)
        for variant_id in rng.sample(pool, 3):
            body = {"variant_id": variant_id, "quantity": 1}
            seen["add"].append(post(f"/api/v1/carts/{cart_id}/items/", body)[1])
        key = str(uuid.uuid4())
        checkout = json.dumps(CHECKOUT_BODY)
        path = f"/api/v1/carts/{cart_id}/checkout/"
        seen["checkout"].append(post(path, checkout, HTTP_IDEMPOTENCY_KEY=key)[1])
    warm = flows // 2
    per = {
        kind: statistics.median(values[len(values) * warm // flows :])
        for kind, values in seen.items()
    }
    return {**per, "order": per["create"] + 3 * per["add"] + per["checkout"]}


def frozen_startup(orders: int) -> dict[str, float]:
    """Row "start-up objects frozen": the S2 flow in this process (everything loaded, as a
    gunicorn worker after ``config.wsgi``), the garbage collector's time per order
    measured by its own callbacks, before and after ``gc.freeze()``. The two arms cannot
    alternate (a freeze is not undone by ``gc.unfreeze`` without moving the objects back
    into the oldest generation, which is what the first arm has), so each runs once."""
    import gc

    one = flow_once()
    cpu_us(one, 5)
    spent = {"seconds": 0.0, "full": 0}
    started = [0.0]

    def timer(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        spent["seconds"] += time.perf_counter() - started[0]
        spent["full"] += info["generation"] == 2

    out: dict[str, float] = {"objects": float(len(gc.get_objects()))}
    gc.unfreeze()
    gc.callbacks.append(timer)
    try:
        for arm in ("live", "frozen"):
            if arm == "frozen":
                gc.freeze()
            spent.update(seconds=0.0, full=0)
            out[f"{arm}_cpu_us"] = cpu_us(one, orders)
            out[f"{arm}_gc_us"] = spent["seconds"] * 1e6 / orders
            out[f"{arm}_full_per_100"] = spent["full"] * 100 / orders
    finally:
        gc.callbacks.remove(timer)
    return out


def _row(name: str, on: float, off: float, per_request: float | None) -> str:
    saved = off - on
    share = f"{100 * saved / per_request:.1f} %" if per_request else "-"
    return f"| {name} | {on:.1f} | {off:.1f} | {saved:.1f} | {share} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    kinds = ["all", "request", "flow", "renderer", "calls", "page", "answers", "reference", "gc"]
    kinds.append("orm")
    parser.add_argument("what", choices=kinds)
    parser.add_argument("path", nargs="?", default="/api/v1/products/")
    parser.add_argument("-n", type=int, default=2000)
    args = parser.parse_args()
    setup_django()
    if args.what == "request":
        print(f"{args.path}: {request_cpu_us(args.path, args.n):.1f} us CPU per request")
        return
    if args.what == "calls":
        counts = flow_calls()
        print(
            "S2 Python calls per request: " + ", ".join(f"{k} {v:.0f}" for k, v in counts.items())
        )
        return
    if args.what == "answers":  # row "cart and order answers built by hand"
        answers_tricks(args.n)
        return
    if args.what == "renderer":
        on, off = orjson_renderer(args.n)
        print(f"S2 answers rendered: orjson {on:.1f} us, DRF {off:.1f} us per order")
        return
    if args.what == "flow":
        print(f"S2 flow: {flow_cpu_us(args.n):.1f} us CPU per order")
        return
    if args.what == "reference":  # n orders per batch
        on, off = pricing_reference(args.n)
        print(f"S2 flow: rule tables kept {on:.1f} us, read each time {off:.1f} us per order")
        return
    if args.what == "gc":  # n orders per arm
        found = frozen_startup(args.n)
        print(
            f"S2 flow, {found['objects']:.0f} objects loaded: garbage collection "
            f"{found['live_gc_us']:.0f} us per order live ({found['live_full_per_100']:.1f} full "
            f"collections per 100 orders), {found['frozen_gc_us']:.0f} us frozen "
            f"({found['frozen_full_per_100']:.1f}); CPU per order {found['live_cpu_us']:.0f} "
            f"and {found['frozen_cpu_us']:.0f} us"
        )
        return
    if args.what == "orm":  # rows "lines queries built once", "stock written in one ..."
        orm_tricks(args.n)
        return
    if args.what == "page":  # the computed-page rows (cache off), n pages per batch
        page_tricks(args.n)
        return
    s1 = request_cpu_us("/api/v1/products/", args.n)
    s2 = flow_cpu_us(max(5, args.n // 100))
    print(f"S1 product list (cache hit): {s1:.1f} us CPU per request, in-process")
    print(f"S2 guest flow: {s2:.1f} us CPU per order, in-process\n")
    print("| trick | with (us) | without (us) | saved (us) | of its request |")
    print("| --- | --- | --- | --- | --- |")
    on, off = catalog_batch(args.n)
    print(_row("catalogue read in the throttle's round trip (S1 hit, whole request)", on, off, s1))
    on, off = router_order(args.n * 5)
    print(_row("routes in traffic order: products + cart items resolved", on, off, s1))
    on, off = lazy_messages(args.n * 5)
    print(_row("lazy flash messages, per API request", on, off, s1))
    on, off = orjson_renderer(args.n)
    print(_row("orjson renderer: the five answers of an S2 order", on, off, s2))
    page_tricks(max(10, args.n // 20))
    answers_tricks(max(5, args.n // 200))


def answers_tricks(n: int) -> None:
    """Row "cart and order answers built by hand": the five answers of an order alone, the
    whole flow (n orders a batch), and the Python calls per request with either."""
    use = serializer_answers()
    counts = {}
    for by_hand in (False, True):
        use(by_hand)
        counts[by_hand] = flow_calls()
    use(True)
    for by_hand, label in ((True, "by hand"), (False, "serializers")):
        per = ", ".join(f"{k} {v:.0f}" for k, v in counts[by_hand].items())
        print(f"S2 Python calls per request, answers {label}: {per}")
    (on, off), (flow_on, flow_off) = answers_built(n)
    print("\n| trick | with (us) | without (us) | saved (us) | of its request |")
    print("| --- | --- | --- | --- | --- |")
    print(_row("answers built by hand: the five answers of an order, rendered", on, off, flow_off))
    print(_row("the same: the whole S2 flow, per order", flow_on, flow_off, flow_off))


def page_tricks(n: int) -> None:
    """The rows of a computed product page (the list with the response cache off)."""
    page = statistics.median(cpu_us(computed_page(), n) for _ in range(BATCHES))
    cold = statistics.median(cpu_us(computed_page(content_cache=False), n) for _ in range(BATCHES))
    print(f"\ncomputed product page (response cache off): {page:.1f} us CPU per page")
    print(f"the same, content cache off too: {cold:.1f} us CPU per page (in-process)\n")
    print("| trick | with (us) | without (us) | saved (us) | of its request |")
    print("| --- | --- | --- | --- | --- |")
    on, off = page_rows(n)
    print(_row("product pages from rows (content cache off; whole request)", on, off, cold))
    on, off = content_cache(n)
    print(_row("catalogue content cached by version (whole request)", on, off, page))
    on, off = stored_pages(n)
    print(_row("list pages kept by content version (whole request)", on, off, page))
    on, off = availability_sql(n)
    print(_row("availability overlay in one statement (whole request)", on, off, page))


if __name__ == "__main__":
    main()
