"""The one way a webhook leaves the shop: an address check, then one POST, no redirects.

``destination_check`` resolves the URL's host and refuses any address that is not
public (private, loopback, link-local, multicast, reserved, unspecified, also
inside IPv4-mapped IPv6) unless it lies in ``WEBHOOK_ALLOWED_NETWORKS``. ``post``
then connects to the address it checked, not to a second DNS answer (no DNS
rebinding between check and connect), with TLS still verified against the
host name. Redirects are never followed (a 3xx is a failed attempt), timeouts
are short, and at most ``_MAX_BODY_BYTES`` of the answer are read.
What does not belong here: signing, retries and the delivery rows (services).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings

_MAX_BODY_BYTES = 4096
_DEFAULT_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationRefused(Exception):
    """The URL is not one the shop may call (scheme, host, or a non-public address)."""


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str
    port: int
    path: str
    address: str


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    duration_ms: int
    error: str = ""


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False) for n in settings.WEBHOOK_ALLOWED_NETWORKS]


def address_allowed(address: IPAddress) -> bool:
    """Public unicast, or inside a network the settings allow explicitly."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in _allowed_networks()):
        return True
    return address.is_global and not address.is_multicast


def url_check(url: str) -> tuple[str, str, int, str]:
    """Scheme, host, port and path of an acceptable URL, or ``DestinationRefused``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DestinationRefused("The URL cannot be parsed.") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise DestinationRefused("Only http and https URLs can receive webhooks.")
    if scheme == "http" and not settings.WEBHOOK_ALLOW_HTTP:
        raise DestinationRefused("Webhook URLs must use https.")
    if parts.username or parts.password:
        raise DestinationRefused("Credentials in the URL are not accepted; use the secret.")
    host = parts.hostname or ""
    if not host:
        raise DestinationRefused("The URL has no host.")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return scheme, host, port or _DEFAULT_PORTS[scheme], path


def destination_check(url: str) -> Destination:
    """Resolve the host; every address it has must be allowed (else ``DestinationRefused``)."""
    scheme, host, port, path = url_check(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise DestinationRefused(f"The host {host} does not resolve.") from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    refused = [str(a) for a in addresses if not address_allowed(a)]
    if refused or not addresses:
        raise DestinationRefused(
            f"The host {host} resolves to an address webhooks may not reach ({', '.join(refused)})."
        )
    return Destination(scheme=scheme, host=host, port=port, path=path, address=str(addresses[0]))


def post(*, url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST ``body`` once; never raises: a refusal, timeout or reset is an ``Answer`` error."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        destination = destination_check(url)
    except DestinationRefused as exc:
        return Answer(status_code=None, duration_ms=elapsed(), error=f"refused: {exc}")
    timeout = urllib3.Timeout(
        connect=settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS,
        read=settings.WEBHOOK_READ_TIMEOUT_SECONDS,
    )
    pool: urllib3.HTTPConnectionPool
    if destination.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            destination.address,
            destination.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            server_hostname=destination.host,
            assert_hostname=destination.host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            destination.address, destination.port, timeout=timeout, retries=False, maxsize=1
        )
    default_port = _DEFAULT_PORTS[destination.scheme] == destination.port
    host_header = destination.host if default_port else f"{destination.host}:{destination.port}"
    try:
        response = pool.urlopen(
            "POST",
            destination.path,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            retries=False,
            preload_content=False,
        )
        try:
            response.read(_MAX_BODY_BYTES)
        finally:
            response.release_conn()
    except Exception as exc:  # timeouts, resets, TLS errors: a failed attempt, never a crash
        return Answer(status_code=None, duration_ms=elapsed(), error=_describe(exc))
    finally:
        pool.close()
    return Answer(status_code=response.status, duration_ms=elapsed())


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
