"""Counts the SQL statements a request runs, for the benchmark's query-count step.

Outermost middleware, so it sees every query of the request, including those of
other middleware and of ``transaction.on_commit`` callbacks. The count goes out
as ``X-Bench-Queries`` (and the time spent in them as ``X-Bench-Query-Ms``);
with ``BENCH_QUERY_LOG`` set, each request's statements are appended to that
file as one JSON line, to see which queries a target is over by.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from django.db import connections
from django.http import HttpRequest, HttpResponse


class _Recorder:
    def __init__(self, keep_sql: bool) -> None:
        self.count = 0
        self.seconds = 0.0
        self.keep_sql = keep_sql
        self.sql: list[str] = []

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ):
        self.count += 1
        if self.keep_sql:
            self.sql.append(sql)
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


class QueryCountMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.log_path = os.environ.get("BENCH_QUERY_LOG", "")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        recorder = _Recorder(keep_sql=bool(self.log_path))
        with ExitStack() as stack:
            for alias in connections:
                stack.enter_context(connections[alias].execute_wrapper(recorder))
            response = self.get_response(request)
        response["X-Bench-Queries"] = str(recorder.count)
        response["X-Bench-Query-Ms"] = f"{recorder.seconds * 1000:.2f}"
        if self.log_path:
            line = {
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "queries": recorder.count,
                "sql": recorder.sql,
            }
            with open(self.log_path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(line) + "\n")
        return response
