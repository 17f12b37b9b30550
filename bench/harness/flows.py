"""The storefront's multi-step flows and the load generators that drive them.

``Shop`` knows the product's paths and bodies; the baseline project answers the
same paths with a constant body, so one flow function drives both. The closed
loop (S2, memory) keeps ``clients`` threads busy; the open loop (S3) sends at a
fixed rate whatever the latency, from a pool large enough not to fall behind.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from harness.client import Client, Reply, find_key
from harness.stats import summary

API = "/api/v1"
CHECKOUT_BODY: dict[str, Any] = {
    "email": "bench@example.com",
    "shipping_address": {
        "name": "Bench Customer",
        "line1": "1 Load Street",
        "line2": "",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
        "phone": "+49301234567",
    },
    "billing_address": None,
    "shipping_method": "standard",
    "payment": {"provider": "sandbox", "token": "tok_visa"},
}


class StopFlow(Exception):
    """The request budget ran out in the middle of a flow."""


class Budget:
    """A deadline and/or a number of requests shared by all client threads."""

    def __init__(self, *, seconds: float | None = None, requests: int | None = None) -> None:
        self.deadline = time.monotonic() + seconds if seconds is not None else None
        self.left = requests
        self.lock = threading.Lock()
        self.closing = threading.Event()  # no new flows; those running finish
        self.stopped = threading.Event()  # stop now, even in the middle of a flow

    def more_flows(self) -> bool:
        if self.stopped.is_set() or self.closing.is_set():
            return False
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return False
        return self.left is None or self.left > 0

    def take_request(self) -> None:
        if self.stopped.is_set():
            raise StopFlow
        if self.left is None:
            return
        with self.lock:
            if self.left <= 0:
                raise StopFlow
            self.left -= 1


@dataclass
class Recorder:
    """Per-step latencies of successful requests, and what failed."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    flow_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    requests: int = 0
    flows_ok: int = 0
    flows_failed: int = 0

    def add(self, step: str, reply: Reply) -> bool:
        self.requests += 1
        if reply.ok:
            self.latencies[step].append(reply.ms)
            return True
        self.errors[f"{step}:{reply.status}"] += 1
        if len(self.samples) < 5:
            self.samples.append(f"{step}: {reply.describe()}")
        return False

    def merge(self, other: Recorder) -> None:
        for step, values in other.latencies.items():
            self.latencies[step].extend(values)
        self.flow_ms.extend(other.flow_ms)
        self.errors.update(other.errors)
        self.samples.extend(other.samples[: max(0, 5 - len(self.samples))])
        self.requests += other.requests
        self.flows_ok += other.flows_ok
        self.flows_failed += other.flows_failed

    def report(self) -> dict[str, Any]:
        every = [ms for values in self.latencies.values() for ms in values]
        return {
            "requests": self.requests,
            "flows_ok": self.flows_ok,
            "flows_failed": self.flows_failed,
            "errors": dict(self.errors),
            "error_samples": self.samples,
            "latency_ms": summary(every),
            "flow_ms": summary(self.flow_ms),
            "steps": {step: summary(values) for step, values in sorted(self.latencies.items())},
        }


class Shop:
    """The guest storefront API as a client sees it."""

    def __init__(
        self,
        client: Client,
        variants: Sequence[int],
        *,
        rng: random.Random,
        budget: Budget | None = None,
        idempotency_key: bool = True,
    ) -> None:
        self.client = client
        self.variants = variants
        self.rng = rng
        self.budget = budget
        self.idempotency_key = idempotency_key

    def _send(self, method: str, path: str, body: Any = None, **headers: str) -> Reply:
        if self.budget is not None:
            self.budget.take_request()
        return self.client.request(method, path, body, headers)

    def pick(self, count: int) -> list[int]:
        return self.rng.sample(self.variants, count)

    def product_list(self, page: int = 1) -> Reply:
        suffix = f"?page={page}" if page > 1 else ""
        return self._send("GET", f"{API}/products/{suffix}")

    def create_cart(self) -> tuple[Reply, str | None]:
        reply = self._send("POST", f"{API}/carts/", {})
        return reply, (str(find_key(reply.json(), "id")) if reply.ok else None)

    def get_cart(self, cart_id: str) -> Reply:
        return self._send("GET", f"{API}/carts/{cart_id}/")

    def add_item(self, cart_id: str, variant_id: int, quantity: int = 1) -> Reply:
        body = {"variant_id": variant_id, "quantity": quantity}
        return self._send("POST", f"{API}/carts/{cart_id}/items/", body)

    def checkout(self, cart_id: str) -> tuple[Reply, str | None, str | None]:
        headers = {"Idempotency-Key": str(uuid.uuid4())} if self.idempotency_key else {}
        reply = self._send("POST", f"{API}/carts/{cart_id}/checkout/", CHECKOUT_BODY, **headers)
        if not reply.ok:
            return reply, None, None
        body = reply.json()
        order_id = find_key(body, "id")
        token = find_key(body, "access_token")
        return reply, (str(order_id) if order_id else None), (str(token) if token else None)

    def get_order(self, order_id: str, token: str | None) -> Reply:
        headers = {"X-Order-Token": token} if token else {}
        return self._send("GET", f"{API}/orders/{order_id}/", **headers)

    def filled_cart(self, rec: Recorder, lines: int = 3) -> str | None:
        reply, cart_id = self.create_cart()
        if not rec.add("create_cart", reply) or not cart_id:
            return None
        for variant_id in self.pick(lines):
            if not rec.add("add_item", self.add_item(cart_id, variant_id)):
                return None
        return cart_id


def storefront_flow(shop: Shop, rec: Recorder) -> bool:
    """S2: create a cart, add 3 different variants, check out with tok_visa (5 requests)."""
    started = time.perf_counter()
    cart_id = shop.filled_cart(rec)
    if cart_id is None:
        return False
    reply, _, _ = shop.checkout(cart_id)
    if not rec.add("checkout", reply):
        return False
    rec.flow_ms.append((time.perf_counter() - started) * 1000)
    return True


def one_item_flow(variant_id: int | None = None) -> Callable[[Shop, Recorder], bool]:
    """Hot-variant experiment: create a cart, add 1 x one variant, check out (3 requests).

    With ``variant_id`` every checkout buys that same variant (all of them lock one
    stock row); without it, each flow buys a variant drawn from the pool (``Shop.pick``).
    """

    def flow(shop: Shop, rec: Recorder) -> bool:
        started = time.perf_counter()
        reply, cart_id = shop.create_cart()
        if not rec.add("create_cart", reply) or not cart_id:
            return False
        chosen = variant_id if variant_id is not None else shop.pick(1)[0]
        if not rec.add("add_item", shop.add_item(cart_id, chosen)):
            return False
        reply, _, _ = shop.checkout(cart_id)
        if not rec.add("checkout", reply):
            return False
        rec.flow_ms.append((time.perf_counter() - started) * 1000)
        return True

    return flow


def browse_and_buy_flow(shop: Shop, rec: Recorder) -> bool:
    """Memory check: a product list page (1-50), then the S2 flow (6 requests)."""
    if not rec.add("product_list", shop.product_list(shop.rng.randint(1, 50))):
        return False
    return storefront_flow(shop, rec)


def run_closed_loop(
    port: int,
    *,
    flow: Callable[[Shop, Recorder], bool],
    clients: int,
    budget: Budget,
    variants: Sequence[int],
    seed: int = 1,
    idempotency_key: bool = True,
    join_timeout: float = 120.0,
) -> tuple[Recorder, float]:
    """Run ``flow`` in ``clients`` threads until the budget is spent; (results, elapsed s)."""
    results: list[Recorder] = []
    lock = threading.Lock()

    def client_loop(index: int) -> None:
        rec = Recorder()
        client = Client(port)
        shop = Shop(
            client,
            variants,
            rng=random.Random(seed * 1000 + index),
            budget=budget,
            idempotency_key=idempotency_key,
        )
        try:
            while budget.more_flows():
                try:
                    ok = flow(shop, rec)
                except StopFlow:
                    break
                if ok:
                    rec.flows_ok += 1
                else:
                    rec.flows_failed += 1
        finally:
            client.close()
            with lock:
                results.append(rec)

    threads = [
        threading.Thread(target=client_loop, args=(i,), name=f"client-{i}", daemon=True)
        for i in range(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    deadline = (
        time.monotonic()
        + join_timeout
        + (max(0.0, budget.deadline - time.monotonic()) if budget.deadline else 0.0)
    )
    for thread in threads:
        thread.join(timeout=max(0.1, deadline - time.monotonic()))
    budget.stopped.set()
    elapsed = time.perf_counter() - started
    if any(thread.is_alive() for thread in threads):
        raise TimeoutError("load clients did not finish in time")
    total = Recorder()
    for rec in results:
        total.merge(rec)
    return total, elapsed


def prepare_carts(
    port: int, *, count: int, variants: Sequence[int], clients: int = 8, lines: int = 3
) -> tuple[list[str], Recorder]:
    """``count`` guest carts with ``lines`` different variants each, made through the API."""
    carts: list[str] = []
    lock = threading.Lock()
    budget = Budget()
    started = [0]
    failures = [0]

    def make(shop: Shop, rec: Recorder) -> bool:
        with lock:
            if started[0] >= count:
                budget.closing.set()
                return True
            started[0] += 1
        cart_id = shop.filled_cart(rec, lines)
        if cart_id is None:
            with lock:
                started[0] -= 1  # make another one instead, up to a point
                failures[0] += 1
                if failures[0] > max(20, count // 10):
                    budget.closing.set()
            return False
        with lock:
            carts.append(cart_id)
        return True

    rec, _ = run_closed_loop(
        port, flow=make, clients=clients, budget=budget, variants=variants, join_timeout=3600
    )
    return carts[:count], rec


@dataclass
class Checkout:
    cart_id: str
    scheduled: float  # time.time() the open loop meant to send it
    sent: float = 0.0  # time.time() it was actually sent
    reply_ms: float = 0.0
    status: int = 0
    order_id: str | None = None
    token: str | None = None
    error: str = ""
    seen_paid: float | None = None  # time.time() an API poll first saw it paid


def run_open_loop_checkouts(
    port: int,
    *,
    carts: Sequence[str],
    rate: float,
    poll_every: int,
    poll_timeout: float,
    idempotency_key: bool = True,
    pool_size: int = 128,
) -> tuple[list[Checkout], dict[str, Any]]:
    """Send one checkout every ``1/rate`` s; poll every ``poll_every``-th order via the API."""
    checkouts = [Checkout(cart_id=cart, scheduled=0.0) for cart in carts]
    local = threading.local()
    poll_queue: list[Checkout] = []
    poll_lock = threading.Lock()
    sending_done = threading.Event()
    poll_stats: Counter[str] = Counter()

    def shop() -> Shop:
        if not hasattr(local, "shop"):
            local.shop = Shop(
                Client(port, timeout=30), [], rng=random.Random(), idempotency_key=idempotency_key
            )
        return local.shop

    def send(index: int) -> None:
        item = checkouts[index]
        item.sent = time.time()
        reply, order_id, token = shop().checkout(item.cart_id)
        item.reply_ms, item.status = reply.ms, reply.status
        item.order_id, item.token = order_id, token
        if not reply.ok:
            item.error = reply.describe()
        elif order_id and poll_every and index % poll_every == 0:
            with poll_lock:
                poll_queue.append(item)

    def poller() -> None:
        client = Shop(Client(port), [], rng=random.Random())
        while True:
            cycle = time.monotonic()
            with poll_lock:
                pending = [c for c in poll_queue if c.seen_paid is None]
            now = time.time()
            live = [c for c in pending if now - c.sent < poll_timeout]
            if not live:
                if sending_done.is_set():
                    with poll_lock:
                        if all(c.seen_paid is not None for c in poll_queue) or all(
                            now - c.sent >= poll_timeout for c in poll_queue
                        ):
                            return
                time.sleep(0.02)
                continue
            for item in live:
                assert item.order_id is not None
                reply = client.get_order(item.order_id, item.token)
                poll_stats[f"status_{reply.status}"] += 1
                if reply.ok and find_key(reply.json(), "status") == "paid":
                    item.seen_paid = time.time()
            # At most ~10 polls a second in all, so polling does not load the server much.
            time.sleep(max(0.02, 0.1 * len(live) - (time.monotonic() - cycle)))

    poll_thread = threading.Thread(target=poller, name="order-poller", daemon=True)
    poll_thread.start()
    start = time.time() + 0.2
    pool = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="checkout")
    try:
        futures = []
        for index, item in enumerate(checkouts):
            item.scheduled = start + index / rate
            delay = item.scheduled - time.time()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(send, index))
        for future in futures:
            future.result(timeout=120)
    finally:
        sending_done.set()
        pool.shutdown(wait=False, cancel_futures=True)
    sent_span = (checkouts[-1].sent - checkouts[0].sent) if len(checkouts) > 1 else 0.0
    # How late each checkout really went out (a full pool or a slow server delays it).
    lateness = [max(0.0, c.sent - c.scheduled) * 1000 for c in checkouts if c.sent]
    poll_thread.join(timeout=poll_timeout + 10)
    meta = {
        "scheduled_rate": rate,
        "achieved_rate": (len(checkouts) - 1) / sent_span if sent_span > 0 else None,
        "schedule_lateness_ms": summary(lateness),
        "polls": dict(poll_stats),
    }
    return checkouts, meta
