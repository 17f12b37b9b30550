"""Run a command and start it again whenever it exits: the restart policy of ``make up``.

``python -m workers.supervise [--max-delay S] -- <command> [args...]``

honcho (the ``Procfile`` runner of ``make up``) stops every process as soon as one
exits, so a worker that died on a broker blip would take web and beat down with it
and nothing would start it again. Each ``Procfile`` line therefore runs its process
under this supervisor: the child is restarted after 1 s, then 2, 4, ... up to
``--max-delay`` (30 s) while it keeps dying quickly; a child that ran for a minute
restarts after 1 s again. SIGTERM / SIGINT (honcho stopping, Ctrl-C) are passed to
the child, and the supervisor exits with the child's status (128 + N after signal N).
In containers the same job is compose's ``restart: unless-stopped``. Imports no app.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from types import FrameType

HEALTHY_AFTER_SECONDS = 60.0


class Supervisor:
    def __init__(self, command: list[str], *, max_delay: float) -> None:
        self.command = command
        self.max_delay = max_delay
        self.child: subprocess.Popen[bytes] | None = None
        self.stopping = False
        self.restarts = 0

    def _forward(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signum)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._forward)
        signal.signal(signal.SIGINT, self._forward)
        delay = 1.0
        while True:
            started = time.monotonic()
            self.child = subprocess.Popen(self.command)  # noqa: S603 (the operator's own command line)
            code = self.child.wait()
            if self.stopping:
                return code
            if time.monotonic() - started >= HEALTHY_AFTER_SECONDS:
                delay = 1.0
            self.restarts += 1
            print(
                f"supervise: {self.command[0]} exited with {code}; restart "
                f"{self.restarts} in {delay:g} s",
                file=sys.stderr,
                flush=True,
            )
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline and not self.stopping:
                time.sleep(0.1)
            if self.stopping:
                return code
            delay = min(delay * 2, self.max_delay)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers.supervise")
    parser.add_argument("--max-delay", type=float, default=30.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command to run is required (after --)")
    code = Supervisor(command, max_delay=args.max_delay).run()
    return 128 - code if code < 0 else code  # killed by a signal: the shell's 128 + N


if __name__ == "__main__":
    sys.exit(main())
