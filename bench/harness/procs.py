"""Every process the benchmark starts, and what /proc says about them.

Each child runs in its own session (its own process group) and gets SIGTERM if
the harness dies (``PR_SET_PDEATHSIG``), and ``ProcessGroup.stop_all()`` stops
them in reverse order (SIGTERM to the group, then SIGKILL after a grace period),
so a Ctrl-C, a failure or a kill of ``run.py`` leaves nothing running.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Managed:
    name: str
    argv: list[str]
    log: Path
    proc: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class ProcessGroup:
    """Starts children and guarantees they are all stopped."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[Managed] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: dict[str, str],
    ) -> Managed:
        log = self.log_dir / f"{name}.log"
        handle = log.open("ab")
        try:
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,  # only ever called from the main thread
            )
        finally:
            handle.close()
        managed = Managed(name=name, argv=list(argv), log=log, proc=proc)
        self.procs.append(managed)
        return managed

    def stop(self, managed: Managed, *, grace: float = 15.0) -> None:
        if managed.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(managed.pid, signal.SIGTERM)
            try:
                managed.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(managed.pid, signal.SIGKILL)
                managed.proc.wait(timeout=10)
        # Stragglers of the group (a worker child that outlived its master).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(managed.pid, signal.SIGKILL)
        if managed in self.procs:
            self.procs.remove(managed)

    def terminate(self, managed: Managed) -> None:
        """SIGTERM the group now; ``stop``/``stop_all`` reap it later."""
        if managed.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(managed.pid, signal.SIGTERM)

    def stop_all(self) -> None:
        """SIGTERM every group at once, then reap each (SIGKILL after the grace period)."""
        for managed in reversed(list(self.procs)):
            self.terminate(managed)
        for managed in reversed(list(self.procs)):
            with contextlib.suppress(Exception):
                self.stop(managed)


def wait_until(
    predicate: Callable[[], bool], *, timeout: float, interval: float = 0.1, what: str = ""
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what or 'a condition'}")


# --- /proc ----------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may itself contain spaces or ')'.
    return raw[raw.rindex(")") + 2 :].split()


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (scans /proc; no external tools)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields and int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of ``pid`` in clock ticks, None if it is gone or unreadable."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    return int(fields[11]) + int(fields[12])


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class CpuSnapshot:
    ticks: dict[int, int]
    at: float

    @classmethod
    def of(cls, pids: Sequence[int]) -> CpuSnapshot:
        ticks = {}
        for pid in pids:
            value = cpu_ticks(pid)
            if value is not None:
                ticks[pid] = value
        return cls(ticks=ticks, at=time.monotonic())

    def ms_since(self, before: CpuSnapshot) -> tuple[float, bool]:
        """CPU milliseconds spent between the snapshots, and whether the set of pids changed.

        A pid that appeared in between counts from zero (a new process or connection).
        """
        total = 0
        for pid, ticks in self.ticks.items():
            total += ticks - before.ticks.get(pid, 0)
        changed = set(self.ticks) != set(before.ticks)
        return total * 1000.0 / CLK_TCK, changed


class CpuTracker:
    """CPU time of a changing set of processes over a window, in milliseconds.

    Sampled every ``interval`` s in a thread, so a process that ends inside the
    window (a PostgreSQL backend whose connection reached ``CONN_MAX_AGE``) still
    counts up to its last sample, and one that starts inside it counts from zero.
    """

    def __init__(self, list_pids: Callable[[], Sequence[int]], interval: float = 0.5) -> None:
        self.list_pids = list_pids
        self.interval = interval
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.initial: set[int] = set()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, name="cpu-tracker", daemon=True)

    def _sample(self, *, initial: bool = False) -> None:
        try:
            pids = list(self.list_pids())
        except Exception:
            return  # a failed look-up (database busy) just skips one sample
        for pid in pids:
            ticks = cpu_ticks(pid)
            if ticks is None:
                continue
            if initial:
                self.initial.add(pid)
            self.first.setdefault(pid, ticks if initial else 0)
            self.last[pid] = ticks

    def _run(self) -> None:
        while not self.done.wait(self.interval):
            self._sample()

    def start(self) -> CpuTracker:
        self._sample(initial=True)
        self.thread.start()
        return self

    def stop(self) -> tuple[float, bool]:
        """(CPU ms in the window, whether the set of processes changed)."""
        self.done.set()
        self.thread.join(timeout=10)
        self._sample()
        total = sum(self.last[pid] - self.first[pid] for pid in self.last)
        return total * 1000.0 / CLK_TCK, set(self.last) != self.initial


def machine_info() -> dict[str, object]:
    info: dict[str, object] = {"nproc": os.cpu_count()}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["mem_total_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    info["kernel"] = os.uname().release
    return info


def loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []
