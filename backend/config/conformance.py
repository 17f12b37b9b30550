"""The OpenAPI conformance recorder: a request through the whole stack, the request and
its answer validated by openapi-core against the generated document
(``test_openapi_conformance*.py``; fixtures in ``config/conftest.py``), and the steps
those tests share: a signed-in account, a cart holding a variant.

Imported by tests only; never by application code.
"""

from __future__ import annotations

import json
from typing import Any

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from rest_framework.test import APIClient

HOST = "http://testserver"
PASSWORD = "a-long-passphrase-2024"
ADDRESS = {
    "name": "Ada Buyer",
    "line1": "1 Main St",
    "city": "Dublin",
    "postal_code": "D01",
    "country": "IE",
}


class Recorder:
    """Sends a request through the whole stack and validates it and its answer."""

    def __init__(self, openapi: OpenAPI) -> None:
        self.openapi = openapi
        self.seen: list[tuple[str, str, int]] = []
        self.last: Any = None

    def __call__(
        self,
        client: APIClient,
        method: str,
        path: str,
        body: Any = None,
        *,
        status: int,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
        valid_request: bool = True,
    ) -> Any:
        headers = headers or {}
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        url = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
        meta = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
        send: Any = client.generic  # the stubs want str data and no extra headers
        if data or method in ("post", "put", "patch"):
            response = send(method.upper(), url, data, content_type, **meta)
        else:
            response = send(method.upper(), url, **meta)
        assert response.status_code == status, (method, path, response.content[:800])
        sent = {**headers, **({"Content-Type": content_type} if data else {})}
        for key, value in getattr(client, "_credentials", {}).items():  # client.credentials()
            sent[key.removeprefix("HTTP_").replace("_", "-").title()] = value
        request = MockRequest(
            HOST,
            method,
            path,
            args=query,
            headers=sent,
            data=data or None,
            content_type=content_type,
        )
        if valid_request:
            self.openapi.validate_request(request)
        answer_type: Any = response.headers.get("Content-Type")  # none on a 204
        reply = MockResponse(
            response.content,
            status_code=response.status_code,
            headers=dict(response.headers.items()),
            content_type=answer_type,
        )
        self.openapi.validate_response(request, reply)
        self.seen.append((method, path, response.status_code))
        self.last = response
        return response.json() if response.content else None


def token_pair(
    record: Recorder, client: APIClient, email: str, password: str = PASSWORD
) -> dict[str, str]:
    """The access and refresh tokens of a registered account."""
    pair: dict[str, str] = record(
        client, "post", "/api/v1/auth/token/", {"email": email, "password": password}, status=200
    )
    return pair


def signed_in(
    record: Recorder, email: str, password: str = PASSWORD
) -> tuple[APIClient, dict[str, str]]:
    """A client of a newly registered account, sending its access token; and its tokens."""
    client = APIClient()
    record(
        client, "post", "/api/v1/auth/register/", {"email": email, "password": password}, status=201
    )
    pair = token_pair(record, client, email, password)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    return client, pair


def cart_with(record: Recorder, client: APIClient, variant_id: int, quantity: int = 1) -> Any:
    """A new cart of ``client`` holding ``quantity`` of a variant: the answer to adding it."""
    cart = record(client, "post", "/api/v1/carts/", {}, status=201)
    return record(
        client,
        "post",
        f"/api/v1/carts/{cart['id']}/items/",
        {"variant_id": variant_id, "quantity": quantity},
        status=200,
    )
