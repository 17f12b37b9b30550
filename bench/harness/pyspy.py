"""Sampling profiles with py-spy (a full ``bench/run.py``; ``--py-spy PATH`` for another binary).

py-spy comes with the ``dev`` extra (``.venv/bin/py-spy``). It attaches to the gunicorn
master and its workers (``--subprocesses``) during one extra, unmeasured
repetition and writes collapsed stacks (``*.collapsed``: open them in
speedscope, or feed them to flamegraph.pl), summarised here as the functions
with the most own and inclusive samples.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from harness.procs import Managed, ProcessGroup

_LINE = re.compile(r":\d+\)$")


def start(
    group: ProcessGroup, binary: str, pid: int, seconds: float, out: Path, name: str
) -> Managed:
    argv = [
        binary,
        "record",
        "--pid",
        str(pid),
        "--subprocesses",
        "--rate",
        "200",
        "--duration",
        str(max(1, round(seconds))),
        "--format",
        "raw",
        "--output",
        str(out),
        "--nonblocking",
    ]
    return group.start(name, argv, cwd=out.parent, env={"PATH": "/usr/bin:/bin"})


def _frame(raw: str) -> str:
    return _LINE.sub(")", raw.strip())


def summarize(path: Path, top: int = 15) -> dict[str, Any]:
    """Top functions by own samples and by inclusive samples, in % of all samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    in_view: Counter[str] = Counter()  # inclusive, below DRF's APIView.dispatch
    total = 0
    if not path.exists():
        return {"samples": 0, "own": [], "inclusive": []}
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [_frame(f) for f in stack.split(";") if not f.startswith("process ")]
        if not frames:
            continue
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
        view = next((i for i, f in enumerate(frames) if f.startswith("APIView.dispatch ")), None)
        if view is not None:
            for frame in set(frames[view + 1 :]):
                in_view[frame] += samples

    def share(counter: Counter[str], keep: Any = None) -> list[tuple[str, float]]:
        rows = [(f, round(100.0 * n / total, 1)) for f, n in counter.most_common()]
        return [row for row in rows if keep is None or keep(row)][:top]

    def project(row: tuple[str, float]) -> bool:
        return any(f"({prefix}/" in row[0] for prefix in ("apps", "utils", "config", "workers"))

    return {
        "samples": total,
        "own": share(own),
        "inclusive": share(inclusive, lambda row: row[1] < 99.0),
        "in_view": share(in_view, lambda row: row[1] < 80.0),
        "project_inclusive": share(inclusive, project),
    }


def wait(group: ProcessGroup, managed: Managed, seconds: float) -> None:
    try:
        managed.proc.wait(timeout=seconds + 30)
    finally:
        group.stop(managed)
