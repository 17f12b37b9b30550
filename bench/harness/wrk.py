"""Runs wrk (the Debian package) against 127.0.0.1 and reads its summary as JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from harness.procs import die_with_parent

SCRIPT = Path(__file__).with_name("wrk_report.lua")


def wrk_path() -> str | None:
    return shutil.which("wrk")


def run_wrk(
    port: int,
    path: str,
    *,
    seconds: float,
    connections: int = 8,
    threads: int = 2,
    timeout_s: int = 10,
) -> dict[str, Any]:
    binary = wrk_path()
    if binary is None:
        raise FileNotFoundError("wrk is not installed (apt-get install -y wrk)")
    url = f"http://127.0.0.1:{port}{path}"
    argv = [
        binary,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s}s",
        "-s",
        str(SCRIPT),
        url,
    ]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=seconds + timeout_s + 30,
        check=False,
        preexec_fn=die_with_parent,
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-800:]} {done.stderr}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    seconds_run = raw["duration_us"] / 1e6
    errors = sum(
        raw[k]
        for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return {
        "requests": raw["requests"],
        "seconds": seconds_run,
        "rps": raw["requests"] / seconds_run if seconds_run else 0.0,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "errors": errors,
        "raw": raw,
    }
