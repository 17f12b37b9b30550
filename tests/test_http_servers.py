"""What curl, a browser storefront and a scraper see from the real servers.

The same requests go to ``manage.py runserver`` with the dev settings (``DEBUG=True``,
what ``make run`` serves) and to gunicorn with the production settings: every error
under ``/api/`` is JSON in the error shape, a write without its trailing slash is a
404 that names the right URL (not Django's ``DEBUG`` 500), a body over the limit is
the JSON 413 on both servers (runserver turned the hop-by-hop ``Connection`` header
into a plain-text 500), early refusals carry the CORS headers, ``/api/v1/`` is an index
and ``/metrics`` checks credentials before the ``Accept`` header.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import BACKEND, REDIS_URL
from tests.processes import free_port, gunicorn_command

SHOP = "http://shop.example"
LIMIT = 4096  # DATA_UPLOAD_MAX_MEMORY_SIZE of the servers started here


@dataclass
class Server:
    name: str
    port: int

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[http.client.HTTPResponse, bytes]:
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response, response.read()
        finally:
            conn.close()


def _commands(name: str, port: int) -> list[str]:
    if name == "runserver":
        return [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    return gunicorn_command(port, workers=2)


@pytest.fixture(scope="module", params=["runserver", "gunicorn"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    name = str(request.param)
    port = free_port()
    tmp = tmp_path_factory.mktemp(name)
    env = {
        **os.environ,
        "PYTHONPATH": str(BACKEND),
        # No request here reads the database: an empty SQLite file will do.
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "CORS_ALLOWED_ORIGINS": SHOP,
        "DATA_UPLOAD_MAX_MEMORY_SIZE": str(LIMIT),
    }
    if name == "runserver":  # make run: dev settings, DEBUG on, no Redis
        env.update({"DJANGO_SETTINGS_MODULE": "config.settings.dev", "REDIS_URL": ""})
        env.pop("DEBUG", None)
    else:  # production settings behind gunicorn
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings.prod",
                "SECRET_KEY": "http-servers-test-" + "k" * 40,
                "ALLOWED_HOSTS": "127.0.0.1",
                "PAYMENT_PROVIDERS": "sandbox",  # prod refuses a provider without its keys
                "SANDBOX_WEBHOOK_SECRET": "whsec_http_servers_test",
                "REDIS_URL": REDIS_URL,
                "SECURE_SSL_REDIRECT": "false",
            }
        )
    log_path = tmp / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            _commands(name, port), cwd=BACKEND, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{name} did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.2)
        yield Server(name, port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _error(response: http.client.HTTPResponse, body: bytes, status: int, code: str) -> dict:
    assert response.status == status, body[:500]
    assert response.getheader("Content-Type") == "application/json", body[:500]
    data = json.loads(body)
    assert data["error"] == code
    assert isinstance(data["details"], dict)
    return data


@pytest.mark.parametrize(
    "path",
    ["/api/v1/nothing-here/", "/api/v1/products/a/b/c/", "/api/nope", "/api/v1/orders/x/y/z"],
)
def test_an_unknown_url_under_api_is_a_json_404(server: Server, path: str) -> None:
    response, body = server.request("GET", path)
    _error(response, body, 404, "not_found")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_a_write_without_its_trailing_slash_is_a_404_naming_the_url(
    server: Server, method: str
) -> None:
    response, body = server.request(
        method, "/api/v1/carts?x=1", b"{}", {"Content-Type": "application/json"}
    )
    data = _error(response, body, 404, "not_found")
    assert "/api/v1/carts/?x=1" in data["details"]["message"]


def test_a_read_without_its_trailing_slash_is_redirected(server: Server) -> None:
    response, _ = server.request("GET", "/api/v1/categories?page=1")
    assert response.status == 301
    assert response.getheader("Location") == "/api/v1/categories/?page=1"


def test_a_body_over_the_limit_is_the_json_413(server: Server) -> None:
    body = json.dumps({"pad": "x" * LIMIT}).encode()
    response, raw = server.request(
        "POST", "/api/v1/carts/", body, {"Content-Type": "application/json"}
    )
    data = _error(response, raw, 413, "payload_too_large")
    assert str(LIMIT) in data["details"]["message"]


def test_after_a_413_the_connection_still_serves_the_next_request(server: Server) -> None:
    """The unread body is dropped by the server, not parsed as the next request."""
    conn = server.connection()
    try:
        big = json.dumps({"pad": "x" * LIMIT}).encode()
        conn.request(
            "POST", "/api/v1/carts/", body=big, headers={"Content-Type": "application/json"}
        )
        first = conn.getresponse()
        _error(first, first.read(), 413, "payload_too_large")
        if first.getheader("Connection", "").lower() == "close":
            conn.close()  # the server chose to close (gunicorn's sync workers always do)
        conn.request("GET", "/api/v1/")
        second = conn.getresponse()
        assert second.status == 200
        assert json.loads(second.read())["version"] == "v1"
    finally:
        conn.close()


def test_early_refusals_carry_the_cors_headers_for_an_allowed_origin(server: Server) -> None:
    too_big, _ = server.request(
        "POST",
        "/api/v1/carts/",
        b"x" * (LIMIT + 1),
        {"Content-Type": "application/json", "Origin": SHOP},
    )
    assert too_big.status == 413
    assert too_big.getheader("Access-Control-Allow-Origin") == SHOP
    nul, body = server.request("GET", "/api/v1/products/?search=%00", headers={"Origin": SHOP})
    _error(nul, body, 400, "bad_request")
    assert nul.getheader("Access-Control-Allow-Origin") == SHOP
    missing, body = server.request("GET", "/api/v1/nothing/", headers={"Origin": SHOP})
    _error(missing, body, 404, "not_found")
    assert missing.getheader("Access-Control-Allow-Origin") == SHOP
    other, _ = server.request(
        "GET", "/api/v1/products/?search=%00", headers={"Origin": "http://x.example"}
    )
    assert other.getheader("Access-Control-Allow-Origin") is None


def test_the_api_root_is_an_index_with_links_to_the_schema_and_docs(server: Server) -> None:
    response, body = server.request("GET", "/api/v1/")
    assert response.status == 200
    index = json.loads(body)
    base = f"http://127.0.0.1:{server.port}/api/v1/"
    assert index["schema"] == f"{base}schema/"
    assert index["docs"] == f"{base}docs/"
    assert index["resources"]["products"] == f"{base}products/"
    assert index["resources"]["auth/token"] == f"{base}auth/token/"
    schema, text = server.request("GET", "/api/v1/schema/")
    assert schema.status == 200
    assert b"openapi: 3" in text
    docs, page = server.request("GET", "/api/v1/docs/")
    assert docs.status == 200
    assert b"swagger" in page.lower()


@pytest.mark.parametrize("accept", ["text/plain", "text/html"])
def test_metrics_checks_credentials_before_the_accept_header(server: Server, accept: str) -> None:
    response, body = server.request("GET", "/metrics", headers={"Accept": accept})
    _error(response, body, 401, "not_authenticated")
