"""Security headers on API responses, HSTS and HTTPS under prod settings, and CORS.

``test_settings.py`` runs ``check --deploy`` under prod settings; here the headers
are read off real responses: successes, errors and refusals alike (a 401 or a
404 is as frameable and sniffable as a 200).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from apps.catalog.factories import make_product
from config.testing import PROD_REQUIRED, backend_python

SHOP = "https://shop.example.com"
EVIL = "https://evil.example.com"

# GET and POST paths that answer without data: a 200, a 401, a 404, a 405 and a 400.
RESPONSES = [
    ("GET", "/api/v1/products/", 200),
    ("GET", "/api/v1/orders/", 401),
    ("GET", "/api/v1/orders/00000000-0000-4000-8000-000000000000/", 404),
    ("PUT", "/api/v1/carts/", 405),
    ("POST", "/api/v1/auth/token/", 400),
    ("GET", "/api/v1/no-such-route/", 404),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "status"), RESPONSES)
def test_api_responses_carry_the_security_headers(method: str, path: str, status: int) -> None:
    make_product()
    response = APIClient().generic(method, path, data=b"{}", content_type="application/json")

    assert response.status_code == status
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.django_db(transaction=True)
@override_settings(CATALOG_CACHE_SECONDS=30)
def test_a_cached_catalogue_response_carries_them_too() -> None:
    make_product()
    client = APIClient()
    first, second = client.get("/api/v1/products/"), client.get("/api/v1/products/")
    assert first.content == second.content
    for response in (first, second):
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_hsts_is_off_outside_production() -> None:
    """HSTS pins browsers to HTTPS for a year: only prod settings may send it."""
    response = APIClient().get("/healthz", secure=True)
    assert "Strict-Transport-Security" not in response


def _prod(script: str, **extra_env: str) -> dict[str, Any]:
    """Run ``script`` under prod settings (no database or Redis is touched) and read its JSON."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "REDIS_URL", "SECURE_SSL_REDIRECT")
    }
    env.update(
        {
            **PROD_REQUIRED,
            "DJANGO_SETTINGS_MODULE": "config.settings.prod",
            "ALLOWED_HOSTS": "testserver,shop-api.example.com",
            "CORS_ALLOWED_ORIGINS": SHOP,
            "PAYMENT_PROVIDERS": "sandbox",
            "SANDBOX_WEBHOOK_SECRET": "whsec_a_real_sandbox_secret",
            **extra_env,
        }
    )
    prelude = "import django, json\ndjango.setup()\nfrom django.test import Client\n"
    result = backend_python("-c", prelude + script, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_prod_sends_hsts_and_redirects_plain_http() -> None:
    seen = _prod(
        "client = Client()\n"
        "secure = client.get('/healthz', secure=True)\n"
        "plain = client.get('/api/v1/products/')\n"
        "probe = client.get('/healthz')\n"
        "from django.conf import settings as s\n"
        "print(json.dumps({'hsts': secure.get('Strict-Transport-Security'),\n"
        "  'nosniff': secure.get('X-Content-Type-Options'),\n"
        "  'frame': secure.get('X-Frame-Options'),\n"
        "  'plain': [plain.status_code, plain.get('Location')],\n"
        "  'probe': probe.status_code,\n"
        "  'cookies': [s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY],\n"
        "  'cors': s.CORS_ALLOWED_ORIGINS, 'debug': s.DEBUG}))\n"
    )
    assert seen["hsts"] == "max-age=31536000; includeSubDomains; preload"
    assert (seen["nosniff"], seen["frame"]) == ("nosniff", "DENY")
    assert seen["plain"] == [301, "https://testserver/api/v1/products/"]
    assert seen["probe"] == 200  # the load balancer's probes stay on plain HTTP
    assert seen["cookies"] == [True, True, True]
    assert seen["cors"] == [SHOP]
    assert seen["debug"] is False


def test_the_admin_moves_to_the_configured_url() -> None:
    seen = _prod(
        "client = Client()\n"
        "moved = client.get('/backoffice-7f3a/', secure=True)\n"
        "old = client.get('/admin/', secure=True)\n"
        "print(json.dumps({'moved': [moved.status_code, moved.get('Location')],\n"
        "  'old': old.status_code}))\n",
        ADMIN_URL="backoffice-7f3a/",
    )
    assert seen["moved"] == [302, "/backoffice-7f3a/login/?next=/backoffice-7f3a/"]
    assert seen["old"] == 404


# --- CORS ------------------------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(CORS_ALLOWED_ORIGINS=[SHOP])
def test_cors_answers_an_allowed_origin_only() -> None:
    client = APIClient()
    allowed = client.get("/api/v1/categories/", HTTP_ORIGIN=SHOP)
    other = client.get("/api/v1/categories/", HTTP_ORIGIN=EVIL)

    assert allowed["Access-Control-Allow-Origin"] == SHOP
    assert "Access-Control-Allow-Credentials" not in allowed  # bearer tokens, no cookies
    assert "Access-Control-Allow-Origin" not in other


@pytest.mark.django_db
@override_settings(CORS_ALLOWED_ORIGINS=[SHOP])
def test_a_preflight_from_an_allowed_origin_may_send_the_api_headers() -> None:
    client = APIClient()
    headers = "authorization,content-type,idempotency-key,x-order-token"
    allowed = client.options(
        "/api/v1/carts/",
        HTTP_ORIGIN=SHOP,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )
    other = client.options(
        "/api/v1/carts/",
        HTTP_ORIGIN=EVIL,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )

    assert allowed.status_code == 200
    assert allowed["Access-Control-Allow-Origin"] == SHOP
    assert set(headers.split(",")) <= set(allowed["Access-Control-Allow-Headers"].split(", "))
    assert "Access-Control-Allow-Origin" not in other
    assert "Access-Control-Allow-Headers" not in other


@pytest.mark.django_db
def test_cors_allows_no_origin_unless_configured() -> None:
    response = APIClient().get("/api/v1/categories/", HTTP_ORIGIN=SHOP)
    assert "Access-Control-Allow-Origin" not in response


@override_settings(CORS_ALLOWED_ORIGINS=[SHOP], DATA_UPLOAD_MAX_MEMORY_SIZE=100)
@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("post", "/api/v1/carts/", b"x" * 101, 413),  # BodySizeLimitMiddleware
        ("get", "/api/v1/products/?search=%00", None, 400),  # NulCharacterMiddleware
        ("get", "/api/v1/no-such-thing/", None, 404),
    ],
)
def test_refusals_before_any_view_carry_the_cors_headers(
    method: str, path: str, body: bytes | None, status: int
) -> None:
    """Without them a browser storefront sees "Failed to fetch", not the error."""
    client = APIClient()
    kwargs = {"data": body, "content_type": "application/json"} if body else {}
    allowed = getattr(client, method)(path, HTTP_ORIGIN=SHOP, **kwargs)
    other = getattr(client, method)(path, HTTP_ORIGIN=EVIL, **kwargs)
    assert allowed.status_code == status
    assert allowed.json()["error"]
    assert allowed["Access-Control-Allow-Origin"] == SHOP
    assert "Access-Control-Allow-Origin" not in other
