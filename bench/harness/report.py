"""Renders ``results.json`` as ``bench/RESULTS.md``: the machine, the scenarios, the targets."""

from __future__ import annotations

from typing import Any

TARGET_QUERIES = {
    "product_list": ("product list", 4),
    "cart_get": ("cart GET", 4),
    "cart_add_item": ("add item", 8),
    "checkout_max_1_50_lines": ("checkout, 1-50 lines (max)", 15),
    "s2_flow": ("whole S2 flow (5 requests)", 35),
}


def fmt(value: Any, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{unit}"
    return f"{value}{unit}"


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f} %"


def pct_plain(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f} %"


def pair(a: Any, b: Any, digits: int = 1) -> str:
    return f"{fmt(a, digits)} / {fmt(b, digits)}"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**pass**" if ok else "**FAIL**")


def scenario(results: dict[str, Any], name: str) -> dict[str, Any] | None:
    found = results.get("scenarios", {}).get(name)
    if not found or found.get("status") in ("skipped", "error"):
        return None
    return found


def targets(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    s1, s2, s3 = (scenario(results, n) for n in ("s1", "s2", "s3"))
    counts = (scenario(results, "queries") or {}).get("counts", {})
    memory = scenario(results, "memory")

    cpu = s2["median"]["target"]["cpu_ms_per_order"] if s2 and "median" in s2 else None
    page = scenario(results, "page")
    cpu_page = page["median"]["cpu_ms_per"] if page and "median" in page else None
    s1_ratio, s2_ratio = (s1 or {}).get("ratio"), (s2 or {}).get("ratio")
    mixed_ratio = (scenario(results, "mixed") or {}).get("ratio")
    rows += [
        _target("S1 throughput", ">= 0.5 x bare DRF view", s1_ratio, 2, " x", 0.5, ">="),
        _target(
            "S2 orders/s", ">= 0.25 x baseline, same 5 requests", s2_ratio, 2, " x", 0.25, ">="
        ),
        _target("S2 server CPU per order", "<= 15 ms", cpu, 1, " ms", 15, "<="),
        _target(
            "mixed: product list with buyers / alone", ">= 0.6", mixed_ratio, 2, " x", 0.6, ">="
        ),
        _target(
            "computed product page (cache off), server CPU", "<= 4 ms", cpu_page, 2, " ms", 4, "<="
        ),
    ]
    rows += [
        _target(f"SQL queries: {label}", f"<= {limit}", counts.get(key), 1, "", limit, "<=")
        for key, (label, limit) in TARGET_QUERIES.items()
    ]
    lat = s3.get("created_to_paid_ms", {}) if s3 else {}
    rows += [
        _target("S3 checkout -> paid p50", "<= 150 ms", lat.get("p50"), 0, " ms", 150, "<="),
        _target("S3 checkout -> paid p99", "<= 1 s", lat.get("p99"), 0, " ms", 1000, "<="),
    ]
    if s3 and "lost" in s3:
        bad = s3["lost"] + s3["failed"]
        rows.append(
            (
                "S3 lost or failed",
                "0",
                f"{s3['lost']} lost, {s3['failed']} failed",
                verdict(bad == 0),
            )
        )
    else:
        rows.append(("S3 lost or failed", "0", "n/a", verdict(None)))
    growth = memory.get("max_growth") if memory else None
    first, total = memory.get("requests", (1000, 10_000)) if memory else (1000, 10_000)
    rows.append(
        (
            f"memory: worker RSS growth {first} -> {total} requests",
            "< 10 %",
            pct(growth),
            verdict(None if growth is None else growth < 0.10),
        )
    )
    return rows


def _target(
    label: str, goal: str, value: float | None, digits: int, unit: str, limit: float, op: str
) -> tuple[str, str, str, str]:
    """One row of the targets table: ``op`` is ``">="`` or ``"<="`` against ``limit``."""
    ok = None if value is None else (value >= limit if op == ">=" else value <= limit)
    return (label, goal, fmt(value, digits, unit), verdict(ok))


def table(header: list[str], rows: list[list[str]] | list[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def render_profile(profile: dict[str, Any] | None) -> list[str]:
    if not profile or not profile.get("samples"):
        return []
    lines = [
        "",
        f"py-spy profile of one extra target repetition ({profile['samples']} samples, "
        f"`{profile['file']}`):",
        "",
    ]
    columns = [profile.get(key, [])[:12] for key in ("own", "in_view", "project_inclusive")]
    rows = []
    for i in range(max(len(c) for c in columns)):
        row = []
        for column in columns:
            name, share = column[i] if i < len(column) else ("", None)
            row += [f"`{name}`" if name else "", "" if share is None else fmt(share, 1, " %")]
        rows.append(row)
    header = [
        "own time",
        "%",
        "inside the DRF view, inclusive",
        "%",
        "project code, inclusive",
        "%",
    ]
    return lines + table(header, rows)


def cost_rows(run: dict[str, Any], queries_label: str, queries: str) -> list[list[str]]:
    """The per-request cost rows S1 and S2 share: CPU (web, database), SQL queries, memory."""
    t, b = run["median"]["target"], run["median"]["baseline"]
    return [
        [
            "gunicorn CPU per request",
            fmt(t["cpu_ms_per"], 2, " ms"),
            fmt(b["cpu_ms_per"], 2, " ms"),
            "",
        ],
        [
            "PostgreSQL CPU per request",
            fmt(t["db_cpu_ms_per"], 2, " ms"),
            fmt(b["db_cpu_ms_per"], 2, " ms"),
            "",
        ],
        [queries_label, queries, "0", ""],
        [
            "worker RSS after the run (max)",
            fmt(run["rss"]["target"]["max_mib"], 1, " MiB"),
            fmt(run["rss"]["baseline"]["max_mib"], 1, " MiB"),
            "",
        ],
    ]


def repetitions(run: dict[str, Any], key: str, digits: int) -> str:
    """Each repetition's target / baseline figure ``key`` and their ratio, comma-separated."""
    return ", ".join(
        f"{fmt(rt[key], digits)} / {fmt(rb[key], digits)} ({fmt(q, 2)} x)"
        for rt, rb, q in zip(
            run["runs"]["target"], run["runs"]["baseline"], run["ratios"], strict=True
        )
    )


def render_s1(s1: dict[str, Any], counts: dict[str, Any]) -> list[str]:
    t, b = s1["median"]["target"], s1["median"]["baseline"]
    n = len(s1["runs"]["target"])
    lines = table(
        ["measure", "target `GET /api/v1/products/`", "baseline `GET /`", "target / baseline"],
        [
            [
                f"requests/s (median of {n})",
                fmt(t["rps"], 0),
                fmt(b["rps"], 0),
                fmt(s1.get("ratio"), 2, " x"),
            ],
            ["p50 latency", fmt(t["p50_ms"], 1, " ms"), fmt(b["p50_ms"], 1, " ms"), ""],
            ["p99 latency", fmt(t["p99_ms"], 1, " ms"), fmt(b["p99_ms"], 1, " ms"), ""],
            *cost_rows(
                s1,
                "SQL queries per request",
                f"0 on a cache hit, {fmt(counts.get('product_list'))} on a miss",
            ),
        ],
    )
    reps = repetitions(s1, "rps", 0)
    lines += [
        "",
        f"Repetitions (target / baseline req/s, ratio): {reps}. wrk errors: {s1['errors']}.",
    ]
    return lines + render_profile(s1.get("profile"))


def render_s2(s2: dict[str, Any], counts: dict[str, Any]) -> list[str]:
    t, b = s2["median"]["target"], s2["median"]["baseline"]
    n = len(s2["runs"]["target"])
    flow_q = counts.get("s2_flow")
    rows = [
        [
            f"orders/s (median of {n})",
            fmt(t["orders_per_s"], 1),
            fmt(b["orders_per_s"], 1),
            fmt(s2.get("ratio"), 2, " x"),
        ],
        ["requests/s", fmt(t["rps"], 0), fmt(b["rps"], 0), ""],
        [
            "p50 / p99 per request",
            pair(t["p50_ms"], t["p99_ms"]) + " ms",
            pair(b["p50_ms"], b["p99_ms"]) + " ms",
            "",
        ],
    ]
    for step in ("create_cart", "add_item", "checkout"):
        ts, bs = t["steps"][step], b["steps"][step]
        rows.append(
            [
                f"  {step} p50 / p99",
                pair(ts["p50"], ts["p99"]) + " ms",
                pair(bs["p50"], bs["p99"]) + " ms",
                "",
            ]
        )
    rows += [
        ["gunicorn CPU per order (5 requests)", fmt(t["cpu_ms_per_order"], 1, " ms"), "", ""],
        *cost_rows(
            s2,
            "SQL queries per order / per request",
            f"{fmt(flow_q)} / {fmt(flow_q / 5 if flow_q is not None else None, 1)}",
        ),
    ]
    lines = table(
        [
            "measure",
            "target (5-request guest flow)",
            "baseline (same 5 requests)",
            "target / baseline",
        ],
        rows,
    )
    reps = repetitions(s2, "flows_per_s", 1)
    lines += [
        "",
        f"Repetitions (target / baseline orders/s, ratio): {reps}. Failed requests on "
        f"the target: {s2['errors']}. Load-generator CPU: {s2['client_cpu_s']} s.",
    ]
    return lines + render_profile(s2.get("profile"))


def render_s3(s3: dict[str, Any], counts: dict[str, Any]) -> list[str]:
    sched = s3.get("checkout_scheduled_to_paid_ms", {})
    lat, e2e, api = (
        s3["created_to_paid_ms"],
        s3["checkout_sent_to_paid_ms"],
        s3["api_observed_paid_ms"],
    )
    rows = [
        [
            "checkouts sent (scheduled / achieved rate)",
            f"{s3['checkouts']} ({fmt(s3['scheduled_rate'], 0)} / "
            f"{fmt(s3['achieved_rate'], 1)} per s)",
        ],
        ["paid / lost / failed", f"{s3['paid']} / {s3['lost']} / {s3['failed']}"],
        ["lost means", s3.get("drain_rule", "")],
        ["draining after the last checkout", fmt(s3.get("timings_s", {}).get("drain"), 1, " s")],
        ["order statuses", ", ".join(f"{k}: {v}" for k, v in s3["order_statuses"].items())],
        [
            "failed payments / failed tasks",
            f"{s3['failed_payments']} / {sum(s3['task_failures'].values())}",
        ],
        ["created_at -> paid_at p50 / p99 (database)", pair(lat["p50"], lat["p99"], 0) + " ms"],
        ["checkout sent -> paid_at p50 / p99", pair(e2e["p50"], e2e["p99"], 0) + " ms"],
        [
            "checkout scheduled (open loop) -> paid_at p50 / p99",
            pair(sched.get("p50"), sched.get("p99"), 0) + " ms",
        ],
        [
            f"checkout sent -> seen paid by `GET /orders/{{id}}/` p50 / p99 ({api['n']} polled)",
            pair(api["p50"], api["p99"], 0) + " ms",
        ],
        [
            "checkout request p50 / p99",
            pair(s3["checkout_ms"]["p50"], s3["checkout_ms"]["p99"]) + " ms",
        ],
        [
            "open-loop send lateness (sent - scheduled) p99",
            fmt(s3["schedule_lateness_ms"]["p99"], 1, " ms"),
        ],
        ["gunicorn CPU per checkout", fmt(s3["cpu_ms_per_checkout"], 1, " ms")],
        [
            "Celery worker CPU per order (capture, email, ...)",
            fmt(s3["celery_cpu_ms_per_order"], 1, " ms"),
        ],
        ["PostgreSQL CPU per checkout (web + worker)", fmt(s3["db_cpu_ms_per_checkout"], 1, " ms")],
        ["SQL queries per checkout request", fmt(counts.get("checkout_3_lines"))],
        ["worker RSS after the run (max)", fmt(s3["rss"]["target"]["max_mib"], 1, " MiB")],
    ]
    return table(["measure", "value"], rows)


def render_stock_lock(hot: dict[str, Any]) -> list[str]:
    """The stock lock hold time (the product's histogram) and one variant's ceiling."""
    medians = hot["median"]
    h, sp = medians.get("hot", {}), medians.get("spread", {})
    ceiling = hot.get("stock_lock_ceiling") or {}
    per_s = ceiling.get("checkouts_per_s")
    if per_s is None:
        verdict_ = "No stock lock hold time was recorded (see the warnings), so no ceiling."
    else:
        verdict_ = (
            f"**One variant's row can take at most ≈ {per_s:,.0f} checkouts/s while each "
            f"holds it this long** (1000 / {fmt(ceiling.get('mean_hold_ms'), 2, ' ms')} mean "
            f"hold, hot arm; the hot arm did {fmt(h.get('orders_per_s'), 1)} orders/s)."
        )
    occupancy = ceiling.get("hot_row_occupancy")
    if occupancy is not None and occupancy > 1.02:
        verdict_ += (
            f" **Caution:** these holds add up to {occupancy:.2f} x the hot arm's run time on "
            "one row, which exclusive holds cannot do: the measurement includes something else."
        )
    elif occupancy is not None and occupancy >= 0.85:
        verdict_ += (
            f" The hot row was held {pct_plain(occupancy)} of the hot arm's run time: busy "
            "nearly all the time, so here the row lock, not the CPU, set the hot arm's pace."
        )
    elif occupancy is not None:
        verdict_ += f" The hot row was held {pct_plain(occupancy)} of the hot arm's run time."
    single = hot.get("single_client") or {}
    alone = single.get("stock_lock") or {}
    if alone.get("mean_ms"):
        verdict_ += (
            f" **Uncontended** (the hot variant, one client, nothing else running): held "
            f"{fmt(alone.get('mean_ms'), 2, ' ms')} mean / {fmt(alone.get('p99_ms'), 2, ' ms')} "
            f"p99 over {fmt(alone.get('count'), 0)} checkouts at "
            f"{fmt(single.get('orders_per_s'), 1)} orders/s, so with cores to spare one "
            f"variant's row could take ≈ {1000 / alone['mean_ms']:,.0f} checkouts/s."
        )
    return [
        f"{verdict_} Stock lock held = the product's `storefront_checkout_stock_lock_seconds` "
        "histogram (a successful checkout, from locking its stock rows to the commit), "
        "scraped from `/metrics` before and after each repetition (multiprocess mode: all "
        "workers summed), median over the repetitions; p50 / p99 are bucket estimates "
        "(linear interpolation within the histogram bucket). Hot / spread: p50 "
        f"{pair(h.get('stock_lock_p50_ms'), sp.get('stock_lock_p50_ms'), 2)} ms, checkouts "
        f"observed {pair(h.get('stock_lock_count'), sp.get('stock_lock_count'), 0)}.",
    ]


def render_hot(hot: dict[str, Any], counts: dict[str, Any]) -> list[str]:
    medians, failed = hot["median"], hot["failed_checkouts"]
    n = len(hot["runs"].get("hot", []))
    labels = {
        "hot": f"hot (every checkout: variant {hot['hot_variant']})",
        "spread": f"spread (a random variant of {hot['pool']})",
    }
    rows = []
    for arm, label in labels.items():
        m = medians.get(arm)
        if m is None:
            continue
        bad = failed.get(arm, {})
        by_status = ", ".join(f"{status}: {count}" for status, count in bad.items())
        rows.append(
            [
                label,
                fmt(m["orders_per_s"], 1),
                fmt(m["checkout_p50_ms"], 1, " ms"),
                fmt(m["checkout_p99_ms"], 1, " ms"),
                f"{sum(bad.values())} ({by_status})" if bad else "0",
                fmt(m["cpu_ms_per_order"], 1, " ms"),
                pair(m.get("stock_lock_mean_ms"), m.get("stock_lock_p99_ms"), 2),
            ]
        )
    lines = table(
        [
            "arm",
            f"orders/s (median of {n})",
            "checkout p50",
            "checkout p99",
            "failed checkouts",
            "gunicorn CPU/order",
            "stock lock held (mean / p99, ms)",
        ],
        rows,
    )
    r = hot["ratio"]
    lines += [
        "",
        f"**hot / spread: orders/s {fmt(r['orders_per_s'], 2, ' x')}, "
        f"checkout p50 {fmt(r['checkout_p50'], 2, ' x')}.**",
    ]
    reps = ", ".join(
        f"{fmt(rh['flows_per_s'], 1)} / {fmt(rs['flows_per_s'], 1)} ({fmt(q, 2)} x)"
        for rh, rs, q in zip(
            hot["runs"].get("hot", []), hot["runs"].get("spread", []), hot["ratios"], strict=False
        )
    )
    h, sp = medians.get("hot", {}), medians.get("spread", {})
    topups = hot["restocked"]
    lines += [
        "",
        f"Repetitions (hot / spread orders/s, ratio): {reps}. Failed requests (all steps): "
        + ", ".join(f"{arm} {count}" for arm, count in hot["errors"].items())
        + ".",
        "",
        "PostgreSQL backends waiting on a lock (`pg_stat_activity`, `wait_event_type = "
        "'Lock'`, sampled every 0.1 s), hot / spread: mean "
        f"{pair(h.get('lock_mean_waiting'), sp.get('lock_mean_waiting'), 2)}, "
        f"share of samples with a waiter "
        f"{pct_plain(h.get('lock_share_with_waiter'))} / "
        f"{pct_plain(sp.get('lock_share_with_waiter'))}, "
        f"max {fmt(h.get('lock_max_waiting'))} / {fmt(sp.get('lock_max_waiting'))}. "
        "PostgreSQL CPU per order: "
        f"{fmt(h.get('db_cpu_ms_per_order'), 1, ' ms')} / "
        f"{fmt(sp.get('db_cpu_ms_per_order'), 1, ' ms')}.",
        "",
        *render_stock_lock(hot),
        "",
        "Each flow is 3 requests: create a guest cart, add 1 x the variant, check out with "
        f"tok_visa as in S2; a gunicorn of its own with {hot.get('gunicorn_workers', '?')} sync "
        f"workers (so that several checkouts are in flight at once), "
        f"{hot.get('clients', '?')} clients, closed loop, the arms alternating. "
        "The hot variant is topped up through the stock ledger (a `receive` movement) before "
        f"each of its runs ({topups} top-up{'' if topups == 1 else 's'}).",
    ]
    return lines


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def render_mixed(mixed: dict[str, Any], counts: dict[str, Any]) -> list[str]:
    rows = []
    for b, m, r in zip(mixed["runs"]["browse"], mixed["runs"]["mixed"], mixed["ratios"],
                       strict=False):  # fmt: skip
        rows.append(
            [
                str(b["rep"]),
                fmt(b["rps"], 0),
                _rate(b["cache"]["hit_rate"]),
                fmt(m["rps"], 0),
                _rate(m["cache"]["hit_rate"]),
                fmt(m.get("orders_per_s"), 1),
                fmt(r, 2, " x"),
            ]
        )
    med = mixed["median"]
    rows.append(
        [
            "median",
            fmt(med["browse"]["rps"], 0),
            _rate(med["browse"]["hit_rate"]),
            fmt(med["mixed"]["rps"], 0),
            _rate(med["mixed"]["hit_rate"]),
            fmt(med["mixed"]["orders_per_s"], 1),
            fmt(mixed["ratio"], 2, " x"),
        ]
    )
    return [
        f"wrk on `GET /api/v1/products/` with {mixed['browse_connections']} connections, "
        f"alone (browse) and with {mixed['buyers']} client threads running the S2 flow beside "
        "it (mixed), alternating; its own gunicorn (2 workers). Hit rate: "
        "`storefront_catalog_cache_lookups_total` scraped around each run.",
        "",
        *table(
            [
                "rep",
                "browse list req/s",
                "browse hit rate",
                "mixed list req/s",
                "mixed hit rate",
                "orders/s",
                "mixed / browse",
            ],
            rows,
        ),
    ]


def render_page(page: dict[str, Any], counts: dict[str, Any]) -> list[str]:
    rows = [
        [
            str(r["rep"]),
            fmt(r["rps"], 0),
            fmt(r["p50_ms"], 1),
            fmt(r["cpu_ms_per"], 2),
            fmt(r["db_cpu_ms_per"], 2),
        ]
        for r in page["runs"]
    ]
    med = page["median"]
    rows.append(
        [
            "median",
            fmt(med["rps"], 0),
            fmt(med["p50_ms"], 1),
            fmt(med["cpu_ms_per"], 2),
            fmt(med["db_cpu_ms_per"], 2),
        ]
    )
    return [
        "`GET /api/v1/products/` (20 products with their variants) with the response cache "
        "off (`CATALOG_CACHE_SECONDS=0`), one wrk connection: every request computes the page.",
        "",
        *table(["rep", "pages/s", "p50 ms", "server CPU ms/page", "PostgreSQL CPU ms/page"], rows),
    ]


def render_queries(counts: dict[str, Any]) -> list[str]:
    limits = {key: limit for key, (_, limit) in TARGET_QUERIES.items()}
    limits.update({f"checkout_{n}_lines": 15 for n in (1, 3, 10, 50)})
    rows = []
    for key, value in counts.items():
        limit = limits.get(key)
        ok = None if limit is None else value <= limit
        rows.append([f"`{key}`", fmt(value), "" if limit is None else f"<= {limit}", verdict(ok)])
    return table(["request", "SQL queries", "target", "result"], rows)


def render_memory(memory: dict[str, Any]) -> list[str]:
    first, total = memory["requests"]
    rows = []
    for pid, growth in memory["growth"].items():
        rows.append(
            [
                pid,
                fmt(memory["rss_mib_first"].get(pid), 1, " MiB"),
                fmt(memory["rss_mib_last"].get(pid), 1, " MiB"),
                pct(growth),
            ]
        )
    lines = table(
        ["gunicorn worker", f"RSS after {first} requests", f"RSS after {total} requests", "growth"],
        rows,
    )
    lines += [
        "",
        f"Workload: {memory['workload']}, {total} requests from a fresh gunicorn "
        f"(health checks at start-up not counted).",
    ]
    return lines


def render(results: dict[str, Any]) -> str:
    cfg, git, machine, versions = (
        results.get(k, {}) for k in ("config", "git", "machine", "versions")
    )
    counts = (scenario(results, "queries") or {}).get("counts", {})
    smoke = cfg.get("smoke")
    command = "make bench-smoke" if smoke else "make bench"
    out = [
        "# Benchmark results" + (" (smoke run: numbers are not meaningful)" if smoke else ""),
        "",
        f"- Date: {results.get('date')} (run `{results.get('run_id')}`, "
        f"{results.get('wall_seconds')} s)",
        f"- Commit: `{git.get('commit', '?')}`"
        + (" with uncommitted changes" if git.get("dirty") else ""),
        f"- Machine: {machine.get('nproc')} CPUs ({machine.get('cpu_model', '?')}), "
        f"{machine.get('mem_total_gib')} GiB RAM, Linux {machine.get('kernel')}; load average "
        f"before {machine.get('loadavg_before')}, after {machine.get('loadavg_after')}",
        f"- Software: Python {versions.get('python')}, Django {versions.get('django')}, "
        f"gunicorn {versions.get('gunicorn')}, PostgreSQL {versions.get('postgresql')}, "
        f"{versions.get('wrk')}",
        f"- Reproduce: `{command}` (PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 "
        "reachable; `apt-get install -y wrk`). This run: "
        f"`{results.get('command', 'bench/run.py')}`. Raw JSON and logs: `bench/out/`.",
        f"- Set-up: `seed_demo --products {cfg.get('products')}` into `{cfg.get('database_url')}`; "
        "gunicorn 2 sync workers, `config.settings.prod`, `DEBUG=False`, `CONN_MAX_AGE=60`, "
        "Prometheus multiprocess mode on (`PROMETHEUS_MULTIPROC_DIR`, as the `Procfile` runs "
        "it), "
        "throttles at huge rates, telemetry off, no access log; the baseline (`bench/baseline/`) "
        "is a bare DRF `APIView` served the same way. "
        f"{cfg.get('clients')} connections; warm-up {cfg.get('warmup')} s discarded; "
        f"{cfg.get('reps')} x {cfg.get('duration')} s per server, target and baseline alternating. "
        f"Checkout sends an `Idempotency-Key`: {'yes' if cfg.get('idempotency_key') else 'no'}.",
        "",
        "> The machine is shared (2 cores, other test runs in parallel): absolute numbers are "
        "noisy; the targets are same-run ratios and counts for that reason. The load generators "
        "(wrk, the Python client) run on the same 2 cores as the servers.",
        "",
        "## Targets",
        "",
        *table(["measure", "target", "measured", "result"], targets(results)),
    ]
    sections = [
        ("s1", "S1: `GET /api/v1/products/` (wrk)", render_s1),
        ("s2", "S2: guest flow: create cart, add 3 variants, checkout with tok_visa", render_s2),
        (
            "hot",
            "Hot variant: 1-item guest checkouts, one variant for all vs spread over the pool",
            render_hot,
        ),
        ("mixed", "Mixed: browse and buy at once", render_mixed),
        ("page", "Computed product page (response cache off)", render_page),
        ("s3", "S3: checkout -> paid with a real Celery worker, open loop", render_s3),
    ]
    for name, title, func in sections:
        out += ["", f"## {title}", ""]
        found = results.get("scenarios", {}).get(name)
        if not found:
            out.append("Not run.")
        elif found.get("status") == "skipped":
            out.append(found["note"].capitalize() + ".")
        elif found.get("status") == "error":
            out.append(f"Harness error: `{found.get('error')}`.")
        else:
            if found.get("status") != "ok":
                out += [f"**{found['status']}**: {found.get('error')}", ""]
            for warning in found.get("warnings") or []:
                out += [f"Warning: {warning}.", ""]
            out += func(found, counts)
    out += ["", "## SQL queries per request", ""]
    queries = results.get("scenarios", {}).get("queries")
    if counts:
        out += render_queries(counts)
        out += [
            "",
            "Counted by a separate 1-worker gunicorn on `bench/bench_settings.py` (the "
            "production settings plus `bench/querycount.py`, with the catalogue cache off so "
            "that the product pages are computed: a cache hit makes no query at all), after a "
            "warm-up round; the "
            f"statements of each request are in `{queries.get('log') if queries else ''}`.",
        ]
    elif queries:
        out.append(queries.get("note") or queries.get("error") or "Nothing counted.")
    else:
        out.append("Not run.")
    out += ["", "## Memory", ""]
    memory = results.get("scenarios", {}).get("memory")
    if memory and "growth" in memory:
        out += render_memory(memory)
    elif memory:
        out.append(memory.get("note") or memory.get("error") or "")
    else:
        out.append("Not run.")
    missing = [
        name
        for name, methods in results.get("endpoints", {}).items()
        if name != "seed_demo" and not methods
    ]
    if missing or not results.get("endpoints", {}).get("seed_demo", True):
        out += ["", "## Not wired yet", ""]
        out += [f"- endpoint `{name}` does not exist yet" for name in missing]
        if not results.get("endpoints", {}).get("seed_demo", True):
            out.append("- `manage.py seed_demo` does not exist yet (empty catalogue)")
    if results.get("failures"):
        out += ["", "## Failures", ""] + [f"- {f}" for f in results["failures"]]
    phases = results.get("phases", {})
    spent = [f"{k} {v} s" for k, v in phases.items()]
    spent += [
        f"{k} {v['seconds']} s"
        for k, v in results.get("scenarios", {}).items()
        if v.get("seconds") is not None
    ]
    if spent:
        out += ["", f"Time spent: {', '.join(spent)}."]
    out.append("")
    return "\n".join(out)
