"""The address guard and the one POST: no private targets, no redirects, short timeouts."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings

from apps.integrations import transport
from apps.integrations.testing import Receiver
from utils import signing


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "127.0.0.1",
        "169.254.169.254",  # cloud metadata
        "0.0.0.0",
        "100.64.0.1",  # carrier-grade NAT
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
    ],
)
@override_settings(WEBHOOK_ALLOWED_NETWORKS=[])
def test_non_public_addresses_are_refused_by_default(address: str) -> None:
    assert not transport.address_allowed(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
@override_settings(WEBHOOK_ALLOWED_NETWORKS=[])
def test_public_addresses_are_allowed(address: str) -> None:
    assert transport.address_allowed(ipaddress.ip_address(address))


@override_settings(WEBHOOK_ALLOWED_NETWORKS=["127.0.0.1/32", "10.20.0.0/16"])
def test_a_setting_allows_named_private_networks_only() -> None:
    assert transport.address_allowed(ipaddress.ip_address("127.0.0.1"))
    assert transport.address_allowed(ipaddress.ip_address("10.20.3.4"))
    assert not transport.address_allowed(ipaddress.ip_address("127.0.0.2"))
    assert not transport.address_allowed(ipaddress.ip_address("10.21.0.1"))


@override_settings(WEBHOOK_ALLOWED_NETWORKS=[])
def test_a_host_name_that_resolves_to_loopback_is_refused() -> None:
    with pytest.raises(transport.DestinationRefused, match="may not reach"):
        transport.destination_check("http://localhost:8080/hook")


def test_a_host_with_one_private_address_among_public_ones_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", 443)),
    ]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: answers)
    with pytest.raises(transport.DestinationRefused, match=r"10\.0\.0\.5"):
        transport.destination_check("https://erp.example.com/hook")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "Only http and https"),
        ("https://user:pw@example.com/x", "Credentials"),
        ("https:///nohost", "no host"),
        ("https://example.com:99999/x", "cannot be parsed"),
    ],
)
def test_unacceptable_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(transport.DestinationRefused, match=message):
        transport.url_check(url)


@override_settings(WEBHOOK_ALLOW_HTTP=False)
def test_plain_http_needs_the_setting() -> None:
    with pytest.raises(transport.DestinationRefused, match="https"):
        transport.url_check("http://example.com/x")


def test_a_refused_destination_is_an_answer_with_an_error_and_no_request() -> None:
    with override_settings(WEBHOOK_ALLOWED_NETWORKS=[]):
        answer = transport.post(url="http://127.0.0.1:9/x", body=b"{}", headers={})
    assert answer.status_code is None
    assert answer.error.startswith("refused:")


def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    receiver.statuses.extend([302])
    receiver.location = receiver.url + "/elsewhere"
    headers = {
        "Storefront-Signature": signing.signature_header(body=b"{}", secret="whsec_receiver")
    }
    answer = transport.post(url=receiver.url, body=b"{}", headers=headers)
    assert answer.status_code == 302
    assert len(receiver.received) == 1  # the Location was never requested


def test_a_slow_receiver_times_out_quickly() -> None:
    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            time.sleep(2)
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with override_settings(WEBHOOK_READ_TIMEOUT_SECONDS=0.3):
            started = time.monotonic()
            answer = transport.post(
                url=f"http://127.0.0.1:{server.server_address[1]}/", body=b"{}", headers={}
            )
        assert time.monotonic() - started < 1.5
        assert answer.status_code is None
        assert "Timeout" in answer.error or "timed out" in answer.error
    finally:
        server.shutdown()
        server.server_close()


def test_nothing_listening_is_an_error_not_an_exception() -> None:
    answer = transport.post(url="http://127.0.0.1:9/x", body=b"{}", headers={})
    assert answer.status_code is None
    assert answer.error
