"""A webhook receiver on 127.0.0.1 for tests: verifies each signature, answers with the
statuses it is told, records what it got (and dedupes by event id, as a real one must).

Imported by tests only (unit and integration tiers); never by application code.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from utils import signing
from utils.errors import InvalidSignatureError


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    signature_ok: bool
    status: int

    @property
    def event(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


@dataclass
class Receiver:
    """``statuses``: the answer to each request in turn (then ``default``)."""

    secret: str = ""
    statuses: deque[int] = field(default_factory=deque)
    default: int = 200
    location: str = ""
    received: list[Received] = field(default_factory=list)
    seen_ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/shop"

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        try:
            signing.signature_verify(
                body=body, header=headers.get("Storefront-Signature"), secret=self.secret
            )
            signature_ok = True
        except InvalidSignatureError:
            signature_ok = False
        with self.lock:
            status = self.statuses.popleft() if self.statuses else self.default
            if not signature_ok:
                status = 400
            self.received.append(Received(headers, body, signature_ok, status))
            if 200 <= status < 300:
                event_id = json.loads(body)["id"]
                if event_id not in self.seen_ids:  # dedupe by event id
                    self.seen_ids.append(event_id)
        return status

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                status = receiver.answer(dict(self.headers.items()), body)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.location or "http://127.0.0.1:9/")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
