"""The Procfile's restart policy: a child that exits is started again; a stop signal
reaches the child and ends the supervisor."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[1]
ROOT = BACKEND.parent


def test_a_child_that_exits_is_restarted_and_sigterm_stops_both(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    # Each run appends a line; the first two die at once, the third stays up.
    child = (
        "import pathlib, sys, time; p = pathlib.Path(sys.argv[1]); "
        "p.open('a').write('run\\n'); n = len(p.read_text().splitlines()); "
        "sys.exit(3) if n < 3 else time.sleep(60)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "workers.supervise", "--", sys.executable, "-c", child, str(runs)],
        cwd=BACKEND,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if runs.exists() and len(runs.read_text().splitlines()) >= 3:
            break
        time.sleep(0.1)
    assert len(runs.read_text().splitlines()) == 3  # restarted twice (1 s, then 2 s)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 128 + signal.SIGTERM  # the child got it and stopped
    assert proc.stderr is not None
    log = proc.stderr.read().decode()
    assert "exited with 3; restart 1 in 1 s" in log
    assert "restart 2 in 2 s" in log


def test_every_procfile_process_runs_under_the_supervisor() -> None:
    lines = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()]
    assert {line.split(":", 1)[0] for line in lines} == {"web", "worker", "beat"}
    for line in lines:
        assert "-m workers.supervise --" in line, line
