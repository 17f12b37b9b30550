"""The storefront benchmark: one command, ``make bench`` (or ``make bench-smoke`` in CI).

Creates the PostgreSQL database ``storefront_bench`` (dropped and re-created),
migrates it, seeds ``seed_demo --products 1000``, serves the product with
gunicorn (2 sync workers, production settings, Prometheus multiprocess mode on as the
``Procfile`` runs it) and the baseline project
(``bench/baseline``: a bare DRF view) the same way, and loads only 127.0.0.1:

- S1  ``GET /api/v1/products/`` with wrk, 8 connections, target and baseline alternating;
- S2  the guest flow (create cart, add 3 variants, check out with tok_visa) from
      8 client threads, against the same 5 requests on the baseline;
- hot the hot-variant experiment: 1-item guest checkouts from 8 client threads, all
      of one variant (one contended stock row) against a variant drawn from the pool;
- S3  checkout -> paid with a real Celery worker at a steady 20 checkouts/s;
- mixed  browse and buy at once: wrk on the product list (6 connections) alone, then
      with 2 buyer threads running the S2 flow beside it; the list's throughput with buyers
      against without, the orders/s, and the catalogue cache hit rate (from /metrics);
- page  a computed product page: the product list with the response cache off, one
      connection, server CPU per page;
- SQL queries per request (a separate gunicorn with ``bench/bench_settings.py``);
- worker RSS growth between 1k and 10k requests (a fresh gunicorn).

Writes ``bench/RESULTS.md`` (``--smoke``: ``bench/out/RESULTS-smoke.md``; a partial
run such as ``--scenarios s1`` only ``bench/out/<run>/RESULTS.md``) and the raw
JSON in ``bench/out/``. Every process it starts is stopped on exit, Ctrl-C
or failure. Scenarios whose endpoints do not exist yet are skipped and say so.
Exit status 1 when a scenario broke (a harness error, error responses, a lost
order); a missed performance target alone does not fail the run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import db, hot, procs, pyspy, report
from harness.client import Client
from harness.flows import (
    Budget,
    Recorder,
    Shop,
    browse_and_buy_flow,
    one_item_flow,
    prepare_carts,
    run_closed_loop,
    run_open_loop_checkouts,
    storefront_flow,
)
from harness.servers import (
    BACKEND,
    BENCH,
    ROOT,
    Server,
    Worker,
    service_env,
    spawn_baseline,
    spawn_product,
    spawn_query_counter,
    start_celery,
    wait_celery_ready,
)
from harness.stats import median, ratio, summary
from harness.wrk import run_wrk, wrk_path

OUT = BENCH / "out"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/storefront_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
STOCK_ON_HAND = 1_000_000
BROWSE_CONNECTIONS = 6  # mixed scenario: product list readers
BUYERS = 2  # mixed scenario: S2 flow threads beside them


def fmt_rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


@dataclass
class Config:
    smoke: bool
    products: int
    warmup: float
    duration: float
    reps: int
    clients: int
    s3_rate: float
    s3_seconds: float
    s3_stall: float
    s3_drain_max: float
    mem_seconds_max: float
    mem_first: int
    mem_total: int
    database_url: str
    redis_url: str
    idempotency_key: bool
    scenarios: list[str]
    require_all: bool
    reuse_db: bool
    py_spy: str | None
    hot_workers: int
    mixed_workers: int
    hot_clients: int


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="~2 s per scenario (CI)")
    parser.add_argument("--products", type=int, default=1000, help="seed_demo --products")
    parser.add_argument("--warmup", type=float, help="seconds of discarded warm-up per server")
    parser.add_argument("--duration", type=float, help="seconds per measured repetition")
    parser.add_argument("--reps", type=int, help="repetitions (target, baseline alternating)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--s3-rate", type=float, default=20.0, help="checkouts per second")
    parser.add_argument("--s3-seconds", type=float, help="length of the S3 run")
    parser.add_argument("--scenarios", default="s1,s2,hot,mixed,page,s3,queries,memory")
    parser.add_argument("--no-idempotency-key", action="store_true")
    parser.add_argument("--hot-workers", type=int, default=8, help="gunicorn workers, hot scenario")
    parser.add_argument(
        "--mixed-workers", type=int, default=2, help="gunicorn workers, mixed scenario"
    )
    parser.add_argument("--hot-clients", type=int, default=16, help="clients, hot scenario")
    parser.add_argument(
        "--require-all", action="store_true", help="fail (not skip) when an endpoint is missing"
    )
    parser.add_argument(
        "--reuse-db", action="store_true", help="keep an existing seeded bench database"
    )
    parser.add_argument(
        "--py-spy",
        metavar="PATH",
        help="py-spy binary: profile one extra, unmeasured target repetition of S1 and S2 "
        "(default: the venv's py-spy on a full run, none on --smoke)",
    )
    parser.add_argument("--no-py-spy", action="store_true", help="do not profile")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    args = parser.parse_args(argv)
    smoke = bool(args.smoke)
    return Config(
        smoke=smoke,
        products=args.products,
        warmup=args.warmup if args.warmup is not None else (0.5 if smoke else 5.0),
        duration=args.duration if args.duration is not None else (1.0 if smoke else 15.0),
        reps=args.reps if args.reps is not None else (1 if smoke else 3),
        clients=args.clients,
        s3_rate=args.s3_rate,
        s3_seconds=args.s3_seconds if args.s3_seconds is not None else (1.0 if smoke else 60.0),
        s3_stall=10.0 if smoke else 30.0,
        s3_drain_max=30.0 if smoke else 600.0,
        mem_seconds_max=60.0 if smoke else 900.0,
        mem_first=40 if smoke else 1000,
        mem_total=160 if smoke else 10_000,
        database_url=args.database_url,
        redis_url=args.redis_url,
        idempotency_key=not args.no_idempotency_key,
        scenarios=[s.strip() for s in args.scenarios.split(",") if s.strip()],
        require_all=bool(args.require_all),
        reuse_db=bool(args.reuse_db),
        hot_workers=args.hot_workers,
        mixed_workers=args.mixed_workers,
        hot_clients=args.hot_clients,
        py_spy=None
        if (args.no_py_spy or (smoke and not args.py_spy))
        else args.py_spy or _venv_py_spy(),
    )


def _venv_py_spy() -> str | None:
    """The py-spy of the dev extra, next to this interpreter, if it is installed."""
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else None


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def git_info() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
        )
        return done.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}


def tool_version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "missing"
    return (
        (done.stdout or done.stderr).strip().splitlines()[0]
        if (done.stdout or done.stderr)
        else "?"
    )


@dataclass
class Window:
    """CPU of the gunicorn workers, PostgreSQL backends (and ``extra_pids``) during a run."""

    server: Server
    database_url: str
    extra_pids: Callable[[], list[int]] | None = None
    trackers: dict[str, procs.CpuTracker] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    backends: db.BackendLister | None = None

    def __enter__(self) -> Window:
        self.backends = db.BackendLister(self.database_url)
        self.trackers = {
            "cpu_ms": procs.CpuTracker(self.server.worker_pids),
            "db_cpu_ms": procs.CpuTracker(self.backends),
        }
        if self.extra_pids:
            self.trackers["extra_cpu_ms"] = procs.CpuTracker(self.extra_pids)
        for tracker in self.trackers.values():
            tracker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for name, tracker in self.trackers.items():
            ms, changed = tracker.stop()
            self.result[name] = ms
            if name == "cpu_ms":
                self.result["workers_changed"] = changed
        if self.backends is not None:
            self.backends.close()

    def per(self, count: int) -> dict[str, float | None]:
        if not count:
            return {"cpu_ms_per": None, "db_cpu_ms_per": None}
        return {
            "cpu_ms_per": self.result["cpu_ms"] / count,
            "db_cpu_ms_per": self.result["db_cpu_ms"] / count,
        }


def restarted_warning(runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """A gunicorn worker that was replaced mid-run (a timeout) makes its CPU figure wrong."""
    return [
        f"{label} repetition {r['rep']}: a gunicorn worker was replaced during the run"
        for label, rs in runs.items()
        for r in rs
        if r.get("workers_changed")
    ]


def rss_summary(server: Server) -> dict[str, Any]:
    rss = server.rss_kib()
    return {
        "per_worker_mib": {str(pid): round(kib / 1024, 1) for pid, kib in rss.items()},
        "max_mib": round(max(rss.values()) / 1024, 1) if rss else None,
    }


class Bench:
    def __init__(self, config: Config, group: procs.ProcessGroup, run_dir: Path) -> None:
        self.config = config
        self.group = group
        self.run_dir = run_dir
        self.env = service_env(config.database_url, config.redis_url)
        self.results: dict[str, Any] = {"scenarios": {}, "phases": {}}
        self.endpoints: dict[str, list[str]] = {}
        self.variants: list[int] = []
        self.failed: list[str] = []
        self.target: Server | None = None
        self.baseline: Server | None = None
        self.seed_demo = False
        self.worker: Worker | None = None

    # --- set-up -------------------------------------------------------------------------

    def has(self, *names: str) -> bool:
        return all(self.endpoints.get(name) for name in names)

    def missing(self, *names: str) -> list[str]:
        return [name for name in names if not self.endpoints.get(name)]

    def phase(self, name: str, started: float) -> None:
        self.results["phases"][name] = round(time.monotonic() - started, 1)

    def check_services(self) -> None:
        import redis

        db.server_version(self.config.database_url.rsplit("/", 1)[0] + "/postgres")
        redis.Redis.from_url(self.config.redis_url, socket_connect_timeout=3).ping()

    def setup_database(self) -> None:
        """Drop and re-create the bench database, migrate, seed, find the endpoints."""
        started = time.monotonic()
        url = self.config.database_url
        reuse = self.config.reuse_db and (db.count_rows(url, "catalog_variant") or 0) > 0
        argv = [sys.executable, str(BENCH / "harness" / "prepare.py")]
        if reuse:
            log("reusing the seeded bench database")
        else:
            log(f"re-creating database {db.db_name(url)}, migrate, seed_demo")
            db.recreate_database(url)
            argv += ["--migrate", "--seed-products", str(self.config.products)]
        managed = self.group.start("prepare", argv, cwd=BACKEND, env=self.env)
        try:
            code = managed.proc.wait(timeout=900)
        finally:
            self.group.stop(managed)
        output = managed.log_tail(20_000)
        line = next(
            (ln for ln in reversed(output.splitlines()) if ln.startswith("BENCH_PREPARE ")), None
        )
        if code != 0 or line is None:
            raise RuntimeError(f"preparing the database failed ({code}):\n{output[-4000:]}")
        found = json.loads(line.removeprefix("BENCH_PREPARE "))
        self.endpoints = found["endpoints"]
        self.seed_demo = bool(found["seed_demo"])
        self.results["endpoints"] = {**self.endpoints, "seed_demo": self.seed_demo}
        absent = [name for name, methods in self.endpoints.items() if not methods]
        log(f"endpoints missing: {absent or 'none'}; seed_demo: {found['seed_output'] or 'no'}")
        self.phase("prepare", started)
        self.variants = db.variant_pool(url, limit=1000)
        changed = db.restock(url, self.variants, on_hand=STOCK_ON_HAND) if self.variants else 0
        db.analyze(url)
        self.results["data"] = {
            "products": db.count_rows(url, "catalog_product"),
            "variants": db.count_rows(url, "catalog_variant"),
            "variant_pool": len(self.variants),
            "restocked": changed,
        }
        log(f"data: {self.results['data']}")

    def flush_redis(self) -> None:
        import redis

        redis.Redis.from_url(self.config.redis_url, socket_connect_timeout=3).flushdb()

    # --- scenarios ----------------------------------------------------------------------

    def run_scenario(
        self,
        name: str,
        needs: tuple[str, ...],
        body: Callable[[], dict],
        *,
        needs_variants: bool = False,
    ) -> None:
        if name not in self.config.scenarios:
            return
        lacking = self.missing(*needs)
        if lacking:
            note = f"skipped: endpoint(s) not there yet: {', '.join(lacking)}"
            self.results["scenarios"][name] = {"status": "skipped", "note": note}
            log(f"{name}: {note}")
            if self.config.require_all:
                self.failed.append(f"{name}: {note}")
            return
        if needs_variants and not self.variants:
            note = "skipped: no variants in the bench database (seed_demo missing or empty)"
            self.results["scenarios"][name] = {"status": "skipped", "note": note}
            log(f"{name}: {note}")
            return
        log(f"{name}: start")
        started = time.monotonic()
        try:
            result = body()
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            result = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
            (self.run_dir / f"{name}-traceback.txt").write_text(traceback.format_exc())
            log(f"{name}: ERROR {type(exc).__name__}: {exc}")
        result.setdefault("status", "ok")
        result["seconds"] = round(time.monotonic() - started, 1)
        self.results["scenarios"][name] = result
        if result["status"] != "ok":
            self.failed.append(f"{name}: {result.get('error') or result['status']}")
        log(f"{name}: {result['status']} in {result['seconds']}s")

    def product_env(self, name: str, **extra: str) -> dict[str, str]:
        """The product's environment as deployed: Prometheus multiprocess mode on, as the
        ``Procfile`` runs it, in a fresh metrics directory of this server's own."""
        prom_dir = self.run_dir / f"prom-{name}"
        shutil.rmtree(prom_dir, ignore_errors=True)
        prom_dir.mkdir(parents=True)
        return {**self.env, "PROMETHEUS_MULTIPROC_DIR": str(prom_dir), **extra}

    def servers(self) -> tuple[Server, Server]:
        """The product and the baseline, started side by side."""
        target = (
            spawn_product(self.group, self.product_env("target")) if self.target is None else None
        )
        baseline = spawn_baseline(self.group, self.env) if self.baseline is None else None
        if target is not None:
            self.target = target.ready()
        if baseline is not None:
            self.baseline = baseline.ready()
        assert self.target is not None
        assert self.baseline is not None
        return self.target, self.baseline

    def stop(self, server: Server | None) -> None:
        if server is not None:
            self.group.stop(server.managed)

    def probe_request(self, server: Server, path: str) -> None:
        reply = Client(server.port).request("GET", path)
        if reply.status != 200 or not isinstance(reply.json(), (dict, list)):
            raise RuntimeError(f"GET {path} on {server.name}: {reply.describe()}")

    def s1(self) -> dict[str, Any]:
        cfg = self.config
        target, baseline = self.servers()
        path = "/api/v1/products/"
        self.probe_request(target, path)
        self.probe_request(baseline, "/")
        runs: dict[str, list[dict[str, Any]]] = {"target": [], "baseline": []}
        plan = [(target, path, "target"), (baseline, "/", "baseline")]
        for server, url, _ in plan:
            run_wrk(server.port, url, seconds=cfg.warmup, connections=cfg.clients)
        for rep in range(cfg.reps):
            for server, url, label in plan:
                with Window(server, cfg.database_url) as window:
                    result = run_wrk(
                        server.port, url, seconds=cfg.duration, connections=cfg.clients
                    )
                result.update(window.result, **window.per(result["requests"]), rep=rep + 1)
                result.pop("raw", None)
                runs[label].append(result)
                log(
                    f"s1 rep {rep + 1} {label}: {result['rps']:.0f} req/s "
                    f"p50 {result['p50_ms']:.1f} ms p99 {result['p99_ms']:.1f} ms "
                    f"cpu {result['cpu_ms_per'] or 0:.2f} ms/req errors {result['errors']}"
                )
        errors = sum(r["errors"] for rs in runs.values() for r in rs)
        profile = self.profiled(
            "s1",
            target,
            lambda: run_wrk(target.port, path, seconds=cfg.duration, connections=cfg.clients),
        )
        out = {
            "profile": profile,
            "runs": runs,
            "ratios": [
                ratio(t["rps"], b["rps"])
                for t, b in zip(runs["target"], runs["baseline"], strict=True)
            ],
            "median": {
                label: {
                    key: median([r[key] for r in rs])
                    for key in ("rps", "p50_ms", "p99_ms", "cpu_ms_per", "db_cpu_ms_per")
                }
                for label, rs in runs.items()
            },
            "rss": {"target": rss_summary(target), "baseline": rss_summary(baseline)},
            "errors": errors,
        }
        out["ratio"] = median(out["ratios"])
        out["warnings"] = restarted_warning(runs)
        if errors:
            out["status"] = "failed"
            out["error"] = f"{errors} wrk errors (non-2xx/3xx, socket errors or timeouts)"
        return out

    def profiled(self, name: str, server: Server, load: Callable[[], Any]) -> dict[str, Any] | None:
        """With ``--py-spy``: one more target repetition under the profiler (not measured)."""
        if not self.config.py_spy:
            return None
        out = self.run_dir / f"{name}-target.collapsed"
        seconds = self.config.duration
        recorder = pyspy.start(
            self.group, self.config.py_spy, server.managed.pid, seconds, out, f"py-spy-{name}"
        )
        time.sleep(0.5)  # attached before the load starts
        load()
        pyspy.wait(self.group, recorder, seconds)
        summary_ = pyspy.summarize(out)
        summary_["file"] = str(out.relative_to(ROOT))
        log(f"{name}: py-spy profile {summary_['file']} ({summary_['samples']} samples)")
        return summary_

    def closed_loop(
        self, server: Server, *, clients: int | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        with Window(server, self.config.database_url) as window:
            rec, elapsed = run_closed_loop(
                server.port,
                clients=clients or self.config.clients,
                variants=self.variants,
                idempotency_key=self.config.idempotency_key,
                **kwargs,
            )
        result = rec.report()
        result.update(window.result, **window.per(result["requests"]))
        result["elapsed"] = elapsed
        result["rps"] = result["requests"] / elapsed if elapsed else 0.0
        result["flows_per_s"] = rec.flows_ok / elapsed if elapsed else 0.0
        result["cpu_ms_per_flow"] = window.result["cpu_ms"] / rec.flows_ok if rec.flows_ok else None
        return result

    def s2(self) -> dict[str, Any]:
        cfg = self.config
        target, baseline = self.servers()
        runs: dict[str, list[dict[str, Any]]] = {"target": [], "baseline": []}
        plan = [(target, "target"), (baseline, "baseline")]
        for server, _ in plan:
            self.closed_loop(
                server, flow=storefront_flow, budget=Budget(seconds=cfg.warmup), seed=99
            )
        client_before = os.times()
        for rep in range(cfg.reps):
            for server, label in plan:
                result = self.closed_loop(
                    server, flow=storefront_flow, budget=Budget(seconds=cfg.duration), seed=rep + 1
                )
                result["rep"] = rep + 1
                runs[label].append(result)
                log(
                    f"s2 rep {rep + 1} {label}: {result['flows_per_s']:.1f} orders/s "
                    f"p50 {result['latency_ms']['p50'] or 0:.1f} ms "
                    f"p99 {result['latency_ms']['p99'] or 0:.1f} ms "
                    f"cpu {result['cpu_ms_per_flow'] or 0:.1f} ms/order "
                    f"errors {sum(result['errors'].values())}"
                )
        client_after = os.times()
        errors = sum(sum(r["errors"].values()) for r in runs["target"])
        profile = self.profiled(
            "s2",
            target,
            lambda: self.closed_loop(
                target, flow=storefront_flow, budget=Budget(seconds=cfg.duration), seed=42
            ),
        )
        out: dict[str, Any] = {
            "profile": profile,
            "runs": runs,
            "ratios": [
                ratio(t["flows_per_s"], b["flows_per_s"])
                for t, b in zip(runs["target"], runs["baseline"], strict=True)
            ],
            "median": {
                label: {
                    "orders_per_s": median([r["flows_per_s"] for r in rs]),
                    "rps": median([r["rps"] for r in rs]),
                    "p50_ms": median([r["latency_ms"]["p50"] for r in rs]),
                    "p99_ms": median([r["latency_ms"]["p99"] for r in rs]),
                    "cpu_ms_per_order": median([r["cpu_ms_per_flow"] for r in rs]),
                    "cpu_ms_per": median([r["cpu_ms_per"] for r in rs]),
                    "db_cpu_ms_per": median([r["db_cpu_ms_per"] for r in rs]),
                    "steps": {
                        step: {
                            "p50": median([r["steps"].get(step, {}).get("p50") for r in rs]),
                            "p99": median([r["steps"].get(step, {}).get("p99") for r in rs]),
                        }
                        for step in ("create_cart", "add_item", "checkout")
                    },
                }
                for label, rs in runs.items()
            },
            "client_cpu_s": round(
                (client_after.user + client_after.system)
                - (client_before.user + client_before.system),
                1,
            ),
            "rss": {"target": rss_summary(target), "baseline": rss_summary(baseline)},
            "errors": errors,
        }
        out["ratio"] = median(out["ratios"])
        out["warnings"] = restarted_warning(runs)
        if errors:
            out["status"] = "failed"
            out["error"] = (
                f"{errors} failed requests on the target: {runs['target'][-1]['error_samples'][:2]}"
            )
        return out

    def hot(self) -> dict[str, Any]:
        """Hot-variant experiment: 1-item guest checkouts, one variant for all vs spread out.

        Its own gunicorn (``hot_workers`` workers), closed loop, ``hot_clients``
        threads; arm ``hot`` buys 1 x one single variant in every flow (every checkout
        locks the same stock row), arm ``spread`` 1 x a variant drawn from the pool; the
        arms alternate, ``reps`` x ``duration`` each. The hot variant is topped up
        through the ledger (``db.restock``) before each of its runs. The stock lock hold
        time of each repetition comes from the product's
        ``storefront_checkout_stock_lock_seconds`` histogram, scraped from ``/metrics``
        before and after it.
        """
        cfg = self.config
        # Its own gunicorn with more workers than S2's two: with two, at most two
        # checkouts are ever in flight, and a row lock has nobody to keep waiting.
        # Multiprocess Prometheus (a fresh directory: the workers' value files) so one
        # /metrics scrape sums the stock lock histogram over all workers; only this server.
        metrics_token = secrets.token_urlsafe(32)
        hot_env = self.product_env("hot", METRICS_TOKEN=metrics_token)
        target = spawn_product(self.group, hot_env, name="hot", workers=cfg.hot_workers).ready()
        probe = hot.StockLockProbe(target.port, metrics_token)
        hot_variant = self.variants[0]
        arms = {"hot": one_item_flow(hot_variant), "spread": one_item_flow()}
        restocked = 0
        for label, flow in arms.items():
            if label == "hot":
                restocked += db.restock(cfg.database_url, [hot_variant], on_hand=STOCK_ON_HAND)
            self.closed_loop(
                target,
                flow=flow,
                budget=Budget(seconds=cfg.warmup),
                seed=99,
                clients=cfg.hot_clients,
            )
        runs: dict[str, list[dict[str, Any]]] = {label: [] for label in arms}
        warnings: list[str] = []
        for rep in range(cfg.reps):
            for label, flow in arms.items():
                before: tuple[int | None, int | None] = (None, None)
                if label == "hot":
                    restocked += db.restock(cfg.database_url, [hot_variant], on_hand=STOCK_ON_HAND)
                    before = hot.stock_and_ledger(cfg.database_url, hot_variant)
                probe.start()  # scrapes outside the measured window
                with hot.LockWaitSampler(cfg.database_url) as locks:
                    result = self.closed_loop(
                        target,
                        flow=flow,
                        budget=Budget(seconds=cfg.duration),
                        seed=rep + 1,
                        clients=cfg.hot_clients,
                    )
                result["rep"] = rep + 1
                result["lock_waits"] = locks.result()
                result["stock_lock"] = probe.stop()
                if result["stock_lock"] is None:
                    warnings.append(
                        f"{label} repetition {rep + 1}: no stock lock hold time ({probe.error})"
                    )
                result["checkout_failed"] = hot.failed_by_status(result["errors"])
                warnings += hot.stock_lock_checks(label, rep + 1, result)
                ok = result["flows_ok"]
                result["db_cpu_ms_per_flow"] = result["db_cpu_ms"] / ok if ok else None
                if label == "hot":
                    after = hot.stock_and_ledger(cfg.database_url, hot_variant)
                    sold = None if before[0] is None or after[0] is None else before[0] - after[0]
                    result["hot_stock"] = {"before": before[0], "after": after[0], "sold": sold}
                    if after[0] != after[1]:
                        warnings.append(
                            f"hot repetition {rep + 1}: on_hand {after[0]} != ledger {after[1]}"
                        )
                    if sold != ok:
                        warnings.append(
                            f"hot repetition {rep + 1}: {sold} units sold for {ok} orders"
                        )
                runs[label].append(result)
                lw = result["lock_waits"]
                sl = result["stock_lock"] or {}
                log(
                    f"hot rep {rep + 1} {label}: {result['flows_per_s']:.1f} orders/s "
                    f"checkout p50 {result['steps'].get('checkout', {}).get('p50') or 0:.1f} ms "
                    f"p99 {result['steps'].get('checkout', {}).get('p99') or 0:.1f} ms "
                    f"cpu {result['cpu_ms_per_flow'] or 0:.1f} ms/order "
                    f"lock waiters {lw['mean_waiting'] or 0:.2f} (max {lw['max_waiting']}) "
                    f"stock lock held {sl.get('mean_ms') or 0:.2f} ms mean "
                    f"/ {sl.get('p99_ms') or 0:.2f} ms p99 over {sl.get('count')} checkouts, "
                    f"errors {sum(result['errors'].values())}"
                )
        # The same checkouts one at a time: the hold time without CPU queueing (on this
        # machine 8 workers, 16 clients and PostgreSQL share 2 cores, which stretches
        # every hold above), i.e. what the row lock costs on a machine with cores to spare.
        restocked += db.restock(cfg.database_url, [hot_variant], on_hand=STOCK_ON_HAND)
        probe.start()
        alone = self.closed_loop(
            target, flow=arms["hot"], budget=Budget(seconds=cfg.duration), seed=77, clients=1
        )
        alone["stock_lock"] = probe.stop()
        single = alone["stock_lock"] or {}
        log(
            f"hot, 1 client: {alone['flows_per_s']:.1f} orders/s, stock lock held "
            f"{single.get('mean_ms') or 0:.2f} ms mean / {single.get('p99_ms') or 0:.2f} ms p99"
        )
        errors = {label: sum(sum(r["errors"].values()) for r in rs) for label, rs in runs.items()}
        out: dict[str, Any] = {
            "single_client": {
                "orders_per_s": alone["flows_per_s"],
                "stock_lock": alone["stock_lock"],
                "checkout": alone["steps"].get("checkout", {}),
                "errors": sum(alone["errors"].values()),
            },
            "hot_variant": hot_variant,
            "pool": len(self.variants),
            "restocked": restocked,
            "runs": runs,
            **hot.summarize(runs),
            "errors": errors,
            "rss": {"target": rss_summary(target)},
            "gunicorn_workers": cfg.hot_workers,
            "clients": cfg.hot_clients,
        }
        self.stop(target)
        ratios = out["ratio"]
        ceiling = out["stock_lock_ceiling"]
        log(
            f"hot: hot / spread orders/s {ratios['orders_per_s'] or 0:.2f} x, "
            f"checkout p50 {ratios['checkout_p50'] or 0:.2f} x, "
            f"one variant's row at most {ceiling['checkouts_per_s'] or 0:.0f} checkouts/s "
            f"(stock lock held {ceiling['mean_hold_ms'] or 0:.2f} ms mean)"
        )
        out["warnings"] = restarted_warning(runs) + warnings
        if sum(errors.values()):
            samples = [s for rs in runs.values() for r in rs for s in r["error_samples"]]
            out["status"] = "failed"
            out["error"] = f"failed requests (hot, spread): {errors}: {samples[:2]}"
        return out

    def mixed(self) -> dict[str, Any]:
        """Browse and buy at once: does the product list keep its throughput while people buy?

        Its own gunicorn (2 workers, as S1). Arm ``browse``: wrk on the product list with
        ``BROWSE_CONNECTIONS`` connections; arm ``mixed``: the same wrk while
        ``BUYERS`` client threads run the S2 flow (every checkout commits a stock change).
        Arms alternate, ``reps`` x ``duration``. The cache hit rate of each arm comes from
        ``storefront_catalog_cache_lookups_total`` scraped before and after it.
        """
        cfg = self.config
        token = secrets.token_urlsafe(32)
        target = spawn_product(
            self.group,
            self.product_env("mixed", METRICS_TOKEN=token),
            name="mixed",
            workers=cfg.mixed_workers,
        ).ready()
        path = "/api/v1/products/"
        self.probe_request(target, path)
        run_wrk(target.port, path, seconds=cfg.warmup, connections=BROWSE_CONNECTIONS)
        runs: dict[str, list[dict[str, Any]]] = {"browse": [], "mixed": []}
        for rep in range(cfg.reps):
            for label in ("browse", "mixed"):
                before = hot.cache_lookups(hot.scrape(target.port, token))
                buyers: dict[str, Any] = {}
                thread = None
                if label == "mixed":

                    def buy(out: dict[str, Any] = buyers, seed: int = rep + 1) -> None:
                        out["rec"], out["elapsed"] = run_closed_loop(
                            target.port,
                            flow=storefront_flow,
                            clients=BUYERS,
                            budget=Budget(seconds=cfg.duration),
                            variants=self.variants,
                            seed=seed,
                            idempotency_key=cfg.idempotency_key,
                        )

                    thread = threading.Thread(target=buy, name="mixed-buyers", daemon=True)
                    thread.start()
                result = run_wrk(
                    target.port, path, seconds=cfg.duration, connections=BROWSE_CONNECTIONS
                )
                if thread is not None:
                    thread.join(timeout=cfg.duration + 120)
                after = hot.cache_lookups(hot.scrape(target.port, token))
                result.pop("raw", None)
                result["rep"] = rep + 1
                result["cache"] = hot.cache_delta(before, after)
                if buyers:
                    rec, elapsed = buyers["rec"], buyers["elapsed"]
                    report_ = rec.report()
                    result["orders_per_s"] = rec.flows_ok / elapsed if elapsed else 0.0
                    result["buyer_errors"] = sum(report_["errors"].values())
                    result["buyer_error_samples"] = report_["error_samples"][:2]
                    result["checkout_ms"] = report_["steps"].get("checkout", {})
                runs[label].append(result)
                log(
                    f"mixed rep {rep + 1} {label}: list {result['rps']:.0f} req/s "
                    f"p99 {result['p99_ms']:.1f} ms, hit rate "
                    f"{fmt_rate(result['cache']['hit_rate'])}"
                    + (f", {result['orders_per_s']:.1f} orders/s" if buyers else "")
                )
        self.stop(target)
        ratios = [
            ratio(m["rps"], b["rps"]) for b, m in zip(runs["browse"], runs["mixed"], strict=True)
        ]
        errors = sum(r["errors"] for rs in runs.values() for r in rs) + sum(
            r.get("buyer_errors", 0) for r in runs["mixed"]
        )
        out: dict[str, Any] = {
            "runs": runs,
            "ratios": ratios,
            "ratio": median(ratios),
            "median": {
                label: {
                    "rps": median([r["rps"] for r in rs]),
                    "p99_ms": median([r["p99_ms"] for r in rs]),
                    "hit_rate": median([r["cache"]["hit_rate"] for r in rs]),
                    "orders_per_s": median([r.get("orders_per_s") for r in rs]),
                }
                for label, rs in runs.items()
            },
            "browse_connections": BROWSE_CONNECTIONS,
            "buyers": BUYERS,
            "errors": errors,
        }
        if errors:
            samples = [s for r in runs["mixed"] for s in r.get("buyer_error_samples", [])]
            out["status"] = "failed"
            out["error"] = f"{errors} failed requests: {samples[:2]}"
        return out

    def page(self) -> dict[str, Any]:
        """A computed product page: the list with the response cache off, one connection,
        the gunicorn workers' CPU per page (and PostgreSQL's)."""
        cfg = self.config
        target = spawn_product(
            self.group, self.product_env("page", CATALOG_CACHE_SECONDS="0"), name="page"
        ).ready()
        path = "/api/v1/products/"
        self.probe_request(target, path)
        run_wrk(target.port, path, seconds=cfg.warmup, connections=1, threads=1)
        runs = []
        for rep in range(cfg.reps):
            with Window(target, cfg.database_url) as window:
                result = run_wrk(target.port, path, seconds=cfg.duration, connections=1, threads=1)
            result.update(window.result, **window.per(result["requests"]), rep=rep + 1)
            result.pop("raw", None)
            runs.append(result)
            log(
                f"page rep {rep + 1}: {result['rps']:.0f} pages/s, "
                f"cpu {result['cpu_ms_per'] or 0:.2f} ms/page, "
                f"db cpu {result['db_cpu_ms_per'] or 0:.2f} ms/page"
            )
        self.stop(target)
        errors = sum(r["errors"] for r in runs)
        out: dict[str, Any] = {
            "runs": runs,
            "median": {
                key: median([r[key] for r in runs])
                for key in ("rps", "p50_ms", "p99_ms", "cpu_ms_per", "db_cpu_ms_per")
            },
            "errors": errors,
        }
        if errors:
            out["status"] = "failed"
            out["error"] = f"{errors} wrk errors"
        return out

    def s3(self) -> dict[str, Any]:
        cfg = self.config
        target = self.target or spawn_product(self.group, self.product_env("target")).ready()
        self.target = target
        # Started with the web servers (S3 runs first, so there is no backlog of tasks).
        if self.worker is None:
            self.worker = start_celery(self.group, self.env, wait=False)
        worker = self.worker
        timings: dict[str, float] = {}
        mark = time.monotonic()
        count = max(1, round(cfg.s3_rate * cfg.s3_seconds))
        carts, prep = prepare_carts(
            target.port, count=count, variants=self.variants, clients=cfg.clients
        )
        timings["prepare_carts"] = time.monotonic() - mark
        if len(carts) < count:
            raise RuntimeError(f"prepared {len(carts)} of {count} carts: {prep.samples[:2]}")
        mark = time.monotonic()
        wait_celery_ready(worker)
        timings["worker_ready_wait"] = time.monotonic() - mark
        mark = time.monotonic()
        since = datetime.now(UTC)
        with Window(target, cfg.database_url, extra_pids=worker.pids) as window:
            checkouts, meta = run_open_loop_checkouts(
                target.port,
                carts=carts,
                rate=cfg.s3_rate,
                poll_every=1 if cfg.smoke else 10,
                poll_timeout=30.0 if cfg.smoke else 120.0,
                idempotency_key=cfg.idempotency_key,
            )
            order_ids = [c.order_id for c in checkouts if c.order_id]
            timings["send"] = time.monotonic() - mark
            mark = time.monotonic()
            state = self.drain(order_ids)
        timings["drain"] = time.monotonic() - mark
        by_order = {c.order_id: c for c in checkouts if c.order_id}
        server_ms, e2e_ms, sched_ms, api_ms = [], [], [], []
        statuses: dict[str, int] = {}
        failed_payments = 0
        for order_id, s in state.items():
            statuses[s["status"]] = statuses.get(s["status"], 0) + 1
            failed_payments += sum(1 for p in s["payments"] if p == "failed")
            if s["paid_at"] is not None:
                server_ms.append((s["paid_at"] - s["created_at"]).total_seconds() * 1000)
                e2e_ms.append((s["paid_at"].timestamp() - by_order[order_id].sent) * 1000)
                sched_ms.append((s["paid_at"].timestamp() - by_order[order_id].scheduled) * 1000)
        for c in checkouts:
            if c.seen_paid is not None:
                api_ms.append((c.seen_paid - c.sent) * 1000)
        checkout_failed = [c for c in checkouts if c.status < 200 or c.status >= 300]
        missing_rows = len(order_ids) - len(state)
        lost = statuses.get("pending_payment", 0) + missing_rows
        not_paid = len(state) - statuses.get("paid", 0) - statuses.get("pending_payment", 0)
        out: dict[str, Any] = {
            "checkouts": len(checkouts),
            "checkout_failed": len(checkout_failed),
            "checkout_error_samples": [c.error for c in checkout_failed[:3]],
            "checkout_ms": summary([c.reply_ms for c in checkouts if 200 <= c.status < 300]),
            "order_statuses": statuses,
            "paid": statuses.get("paid", 0),
            "lost": lost,
            "failed": len(checkout_failed) + not_paid,
            "failed_payments": failed_payments,
            "task_failures": db.task_failures_since(cfg.database_url, since),
            "created_to_paid_ms": summary(server_ms),
            "checkout_sent_to_paid_ms": summary(e2e_ms),
            "checkout_scheduled_to_paid_ms": summary(sched_ms),
            "drain_rule": f"lost = still pending_payment after {cfg.s3_stall:.0f} s without "
            f"progress (at most {cfg.s3_drain_max:.0f} s of draining)",
            "api_observed_paid_ms": summary(api_ms),
            "cpu_ms_per_checkout": window.result["cpu_ms"] / len(checkouts),
            "db_cpu_ms_per_checkout": window.result["db_cpu_ms"] / len(checkouts),
            "celery_cpu_ms_per_order": window.result.get("extra_cpu_ms", 0) / len(checkouts),
            "rss": {"target": rss_summary(target)},
            "prep_requests": prep.requests,
            **meta,
        }
        log(
            f"s3: {out['paid']}/{len(checkouts)} paid, lost {lost}, failed {out['failed']}, "
            f"created->paid p50 {out['created_to_paid_ms']['p50'] or 0:.0f} ms "
            f"p99 {out['created_to_paid_ms']['p99'] or 0:.0f} ms"
        )
        out["timings_s"] = {k: round(v, 1) for k, v in timings.items()}
        log(f"s3 timings: {out['timings_s']}")
        if lost or out["failed"]:
            out["status"] = "failed"
            out["error"] = f"{lost} lost and {out['failed']} failed of {len(checkouts)} checkouts"
        return out

    def drain(self, order_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Wait until every order left ``pending_payment``, or none did for ``s3_stall`` s.

        An order still pending then is lost (its task never ran or never finished),
        not merely late: a backlog that is still being worked off keeps us waiting,
        up to ``s3_drain_max``.
        """
        cfg = self.config
        hard = time.monotonic() + cfg.s3_drain_max
        last_change = time.monotonic()
        pending_before = -1
        state: dict[str, dict[str, Any]] = {}
        while time.monotonic() < hard:
            state = db.orders_state(cfg.database_url, order_ids)
            pending = sum(1 for s in state.values() if s["status"] == "pending_payment")
            pending += len(order_ids) - len(state)
            if pending == 0:
                break
            if pending != pending_before:
                pending_before, last_change = pending, time.monotonic()
            elif time.monotonic() - last_change > cfg.s3_stall:
                break
            time.sleep(0.25)
        return state

    def queries(self) -> dict[str, Any]:
        """SQL statements per request, read from a query-counting gunicorn (1 worker)."""
        self.stop(self.target)
        self.stop(self.baseline)
        self.target = self.baseline = None
        log_path = self.run_dir / "queries.jsonl"
        server = spawn_query_counter(self.group, self.env, log_path).ready()
        shop = Shop(Client(server.port), self.variants, rng=random.Random(7))
        counts: dict[str, Any] = {}
        problems: list[str] = []

        def q(name: str, reply: Any) -> int | None:
            if not reply.ok:
                problems.append(f"{name}: {reply.describe()}")
                return None
            value = int(reply.headers.get("x-bench-queries", "-1"))
            if name:
                counts[name] = value
            return value

        try:
            if self.has("products"):
                for _ in range(3):
                    q("product_list", shop.product_list())
            if self.has("carts", "cart_items", "checkout") and self.variants:
                for _ in range(2):  # the first round warms per-process caches
                    reply, cart_id = shop.create_cart()
                    create = q("cart_create", reply)
                    adds = [q("cart_add_item", shop.add_item(cart_id, v)) for v in shop.pick(3)]
                    if self.has("cart"):
                        q("cart_get", shop.get_cart(cart_id))
                    reply, order_id, token = shop.checkout(cart_id)
                    checkout = q("checkout_3_lines", reply)
                if None not in (create, checkout, *adds):
                    counts["s2_flow"] = create + sum(adds) + checkout
                if self.has("order") and order_id:
                    q("order_get", shop.get_order(order_id, token))
                for lines in (1, 50) if self.config.smoke else (1, 10, 50):
                    rec = Recorder()
                    cart_id = shop.filled_cart(rec, lines)
                    if cart_id is None:
                        problems.append(f"cart with {lines} lines: {rec.samples[:1]}")
                        continue
                    reply, _, _ = shop.checkout(cart_id)
                    q(f"checkout_{lines}_lines", reply)
        finally:
            self.group.stop(server.managed)
        lines = [v for k, v in counts.items() if k.startswith("checkout_") and k.endswith("_lines")]
        if lines:
            counts["checkout_max_1_50_lines"] = max(lines)
        out: dict[str, Any] = {"counts": counts, "log": str(log_path.relative_to(ROOT))}
        if problems:
            out["status"] = "failed"
            out["error"] = "; ".join(problems[:3])
        log(f"queries: {counts}")
        return out

    def memory(self) -> dict[str, Any]:
        cfg = self.config
        self.stop(self.target)
        self.stop(self.baseline)
        self.target = self.baseline = None
        server = spawn_product(self.group, self.product_env("memory"), name="memory").ready()
        try:
            if self.has("carts", "cart_items", "checkout", "products") and self.variants:
                flow, label = browse_and_buy_flow, "product list page + S2 flow"
            else:

                def flow(shop: Shop, rec: Recorder) -> bool:
                    return rec.add("product_list", shop.product_list(shop.rng.randint(1, 50)))

                label = "product list pages"
            pids = server.worker_pids()
            first = self.closed_loop(
                server,
                flow=flow,
                budget=Budget(requests=cfg.mem_first, seconds=cfg.mem_seconds_max),
            )
            rss_first = server.rss_kib()
            rest = self.closed_loop(
                server,
                flow=flow,
                budget=Budget(requests=cfg.mem_total - cfg.mem_first, seconds=cfg.mem_seconds_max),
            )
            rss_last = server.rss_kib()
        finally:
            self.group.stop(server.managed)
        growth = {
            str(pid): (rss_last[pid] - rss_first[pid]) / rss_first[pid]
            for pid in pids
            if pid in rss_first and pid in rss_last
        }
        errors = sum(first["errors"].values()) + sum(rest["errors"].values())
        out: dict[str, Any] = {
            "workload": label,
            "requests": [first["requests"], first["requests"] + rest["requests"]],
            "rss_mib_first": {str(p): round(v / 1024, 1) for p, v in rss_first.items()},
            "rss_mib_last": {str(p): round(v / 1024, 1) for p, v in rss_last.items()},
            "growth": growth,
            "max_growth": max(growth.values()) if len(growth) == len(pids) else None,
            "workers_restarted": sorted(rss_last) != sorted(pids),
            "errors": errors,
        }
        if out["workers_restarted"] or out["max_growth"] is None:
            out["status"] = "failed"
            out["error"] = "gunicorn workers changed during the memory run"
        elif errors:
            out["status"] = "failed"
            out["error"] = (
                f"{errors} failed requests: {(first['error_samples'] + rest['error_samples'])[:2]}"
            )
        log(f"memory: growth {growth}")
        return out

    def run(self) -> None:
        started = time.monotonic()
        self.check_services()
        self.flush_redis()  # no queue, cache or throttle state from an earlier run
        self.setup_database()
        started = time.monotonic()
        wanted = set(self.config.scenarios)
        flow = ("carts", "cart_items", "checkout")
        # S3 runs first, with the Celery worker started beside the web servers; the worker
        # is stopped before S1 and S2, which measure the web tier alone.
        if "s3" in wanted and self.has(*flow) and self.variants:
            self.worker = start_celery(self.group, self.env, wait=False)
        if wanted & {"s1", "s2", "s3"}:
            self.servers()
        self.phase("servers", started)
        self.run_scenario("s3", flow, self.s3, needs_variants=True)
        if self.worker is not None:
            self.group.stop(self.worker.managed)
            self.worker = None
        if wrk_path() is None and "s1" in wanted:
            note = "wrk is not installed (apt-get install -y wrk)"
            self.results["scenarios"]["s1"] = {"status": "error", "error": note}
            self.failed.append(f"s1: {note}")
        else:
            self.run_scenario("s1", ("products",), self.s1)
        self.run_scenario("s2", flow, self.s2, needs_variants=True)
        self.run_scenario("hot", flow, self.hot, needs_variants=True)
        self.run_scenario("mixed", ("products", *flow), self.mixed, needs_variants=True)
        self.run_scenario("page", ("products",), self.page)
        self.run_scenario("queries", ("products",), self.queries)
        self.run_scenario("memory", ("products",), self.memory)


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    started_at = datetime.now(UTC)
    run_id = started_at.strftime("%Y%m%dT%H%M%SZ") + ("-smoke" if config.smoke else "")
    run_dir = OUT / run_id
    run_dir.mkdir(parents=True, exist_ok=True)

    def on_term(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    # Explicitly: a shell that starts us in the background would leave SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    group = procs.ProcessGroup(run_dir)
    bench = Bench(config, group, run_dir)
    wall = time.monotonic()
    load_before = procs.loadavg()
    log(f"run {run_id}: logs and raw results in {run_dir.relative_to(ROOT)}")
    crashed = ""
    try:
        bench.run()
    except KeyboardInterrupt:
        crashed = "interrupted"
        log("interrupted: stopping every process")
    except Exception as exc:
        crashed = f"{type(exc).__name__}: {exc}"
        (run_dir / "traceback.txt").write_text(traceback.format_exc())
        log(f"ERROR {crashed}")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up
        group.stop_all()
        signal.signal(signal.SIGINT, signal.default_int_handler)
    results = bench.results
    results.update(
        {
            "run_id": run_id,
            "date": started_at.isoformat(timespec="seconds"),
            "config": asdict(config) | {"database_url": db.db_name(config.database_url)},
            "git": git_info(),
            "machine": procs.machine_info()
            | {"loadavg_before": load_before, "loadavg_after": procs.loadavg()},
            "versions": {
                "python": sys.version.split()[0],
                "postgresql": _safe(lambda: db.server_version(config.database_url)),
                "wrk": tool_version(["wrk", "--version"]),
                "gunicorn": _safe(lambda: __import__("gunicorn").__version__),
                "django": _safe(lambda: __import__("django").get_version()),
            },
            "wall_seconds": round(time.monotonic() - wall, 1),
            "command": " ".join(["bench/run.py", *(sys.argv[1:] if argv is None else argv)]),
            "failures": bench.failed + ([crashed] if crashed else []),
        }
    )
    raw = json.dumps(results, indent=2, default=str)
    (run_dir / "results.json").write_text(raw)
    try:
        markdown = report.render(results)
    except Exception:  # the JSON is written; never lose the run to a report bug
        markdown = f"# Benchmark results\n\nReport failed:\n\n```\n{traceback.format_exc()}```\n"
        results["failures"].append("report rendering failed")
    (run_dir / "RESULTS.md").write_text(markdown)
    # Only a complete run replaces the committed table (and a complete smoke run the CI one);
    # an interrupted, crashed or partial run (--scenarios, --reuse-db, ...) stays in its folder.
    target = run_dir / "RESULTS.md"
    if not crashed and config.smoke:
        target = OUT / "RESULTS-smoke.md"
        (OUT / "latest-smoke.json").write_text(raw)
    elif not crashed and is_complete(config):
        target = BENCH / "RESULTS.md"
        (OUT / "latest.json").write_text(raw)
    target.write_text(markdown)
    log(f"wrote {target.relative_to(ROOT)} in {results['wall_seconds']}s total")
    if results["failures"]:
        for failure in results["failures"]:
            log(f"FAILED {failure}")
        return 1
    return 0


def is_complete(config: Config) -> bool:
    """A run worth ``bench/RESULTS.md``: every scenario, a fresh database, full length."""
    full = parse_args([])
    return (
        set(config.scenarios) == set(full.scenarios)
        and not config.reuse_db
        and config.reps >= full.reps
        and config.duration >= full.duration
        and config.s3_seconds >= full.s3_seconds
        and config.products >= full.products
    )


def _safe(func: Callable[[], Any]) -> Any:
    try:
        return func()
    except Exception as exc:
        return f"? ({type(exc).__name__})"


if __name__ == "__main__":
    sys.exit(main())
