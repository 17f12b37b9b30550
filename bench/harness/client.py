"""A minimal HTTP/1.1 client for 127.0.0.1 only, one connection per thread.

gunicorn's sync workers close the connection after every response, so
``http.client`` transparently reconnects for the next request; wrk does the
same. Nothing here ever talks to another host.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"


@dataclass
class Reply:
    status: int  # 0 when the request failed at the socket level
    body: bytes
    ms: float
    headers: dict[str, str] = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def describe(self) -> str:
        if self.status == 0:
            return f"socket error: {self.error}"
        return f"{self.status} {self.body[:300].decode('utf-8', 'replace')}"


class Client:
    def __init__(self, port: int, *, timeout: float = 15.0) -> None:
        self.port = port
        self.timeout = timeout
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent_headers = {"Accept": "application/json", **(headers or {})}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            sent_headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=payload, headers=sent_headers)
            response = self.conn.getresponse()
            data = response.read()
            reply_headers = {k.lower(): v for k, v in response.getheaders()}
            status = response.status
            if response.will_close:
                self.conn.close()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            return Reply(0, b"", (time.perf_counter() - started) * 1000, error=repr(exc))
        return Reply(status, data, (time.perf_counter() - started) * 1000, reply_headers)

    def close(self) -> None:
        self.conn.close()


def find_key(body: Any, key: str) -> Any:
    """``body[key]``, or the same key one level down (``{"order": {"id": ...}}``)."""
    if not isinstance(body, dict):
        return None
    if key in body:
        return body[key]
    for value in body.values():
        if isinstance(value, dict) and key in value:
            return value[key]
    return None
