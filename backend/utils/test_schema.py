"""The OpenAPI document says what the API answers besides success (issue 8: schema fuzzing
found every operation documenting its 2xx only, so each 400/401/403/404 was "undocumented")."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return dict(SchemaGenerator().get_schema(request=None, public=True))


def responses(document: dict[str, Any], method: str, path: str) -> set[str]:
    return set(document["paths"][path][method]["responses"])


def test_errors_the_pipeline_can_produce_are_documented(document: dict[str, Any]) -> None:
    assert {"401", "404", "429"} <= responses(document, "get", "/api/v1/orders/{id}/")
    assert {"400", "401", "403", "413", "415", "429"} <= responses(
        document, "post", "/api/v1/categories/"
    )
    assert {"400", "404"} <= responses(document, "get", "/api/v1/orders/")  # bad or past page
    # Signed webhooks: no authentication, no throttle, so no 401 or 429.
    webhook = responses(document, "post", "/api/v1/payments/webhooks/{provider}/")
    assert "401" not in webhook
    assert "429" not in webhook


def test_a_403_is_documented_only_where_a_customer_can_get_one(document: dict[str, Any]) -> None:
    assert "403" not in responses(document, "get", "/api/v1/categories/")
    assert "403" not in responses(document, "get", "/api/v1/addresses/{id}/")  # 404 instead
    assert "403" in responses(document, "get", "/api/v1/variants/")
    assert "403" in responses(document, "get", "/api/v1/ops/overview/")


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def test_every_error_response_is_the_one_error_schema(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    error = schemas["Error"]
    assert set(error["required"]) == {"error", "details"}  # error_body always sends both
    lookalikes = [
        name
        for name, schema in schemas.items()
        if name != "Error" and set(schema.get("properties", {})) == {"error", "details"}
    ]
    assert lookalikes == []
    for method, path, operation in operations(document):
        for code, response in operation["responses"].items():
            if code.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, code)


def test_retry_after_and_idempotent_replayed_are_declared(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        for code in ("429", "503"):
            if code in operation["responses"]:
                headers = operation["responses"][code]["headers"]
                assert headers["Retry-After"]["schema"]["type"] == "integer", (method, path)
    for path in (
        "/api/v1/carts/{id}/checkout/",
        "/api/v1/orders/{id}/pay/",
        "/api/v1/orders/{id}/refund/",
    ):
        responses = document["paths"][path]["post"]["responses"]
        for code, response in responses.items():
            replayed = "Idempotent-Replayed" in response.get("headers", {})
            assert replayed == (code[0] == "2" or code in ("404", "409", "422")), (path, code)
    assert "headers" not in document["paths"]["/api/v1/products/"]["get"]["responses"]["200"]


def test_pay_names_its_provider_by_the_same_enum_as_checkout(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]

    def ref(schema: dict[str, Any]) -> str:
        return str(schema.get("$ref") or schema["allOf"][0]["$ref"])

    pay = schemas["PayInputRequest"]["properties"]["provider"]
    checkout = schemas["CheckoutPaymentInputRequest"]["properties"]["provider"]
    assert ref(pay) == ref(checkout) == "#/components/schemas/ProviderEnum"
    assert schemas["ProviderEnum"]["enum"] == ["sandbox", "stripe"]


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_nullable_is_declared_the_way_openapi_3_0_tools_honour(document: dict[str, Any]) -> None:
    """``nullable`` only counts beside a ``type`` (OpenAPI 3.0.3; Redocly's struct rule)."""
    for schema in _walk(document["components"]):
        if schema.get("nullable") is True:
            assert "type" in schema, schema
    order = document["components"]["schemas"]["OrderOutput"]["properties"]
    assert order["billing_address"]["oneOf"][0] == {
        "$ref": "#/components/schemas/OrderAddressOutput"
    }


# Notes for the people who work on the code, not for the people who call the API.
INTERNAL = re.compile(r"``|CPU|prefetch|serializer|context|\bapps\.|\butils\.|celery-results")


def test_descriptions_hold_no_internal_notes_and_no_raw_html(document: dict[str, Any]) -> None:
    texts = [document["info"]["description"]]
    texts += [
        value
        for node in _walk(document)
        for key, value in node.items()
        if key in ("description", "summary") and isinstance(value, str)
    ]
    for text in texts:
        assert not INTERNAL.search(text), text
        # Swagger UI renders Markdown: a <tag> outside a `code span` is taken as HTML.
        assert not re.search(r"<[A-Za-z/!]", re.sub(r"`[^`]*`", "", text)), text


def test_public_reads_say_that_anonymous_callers_are_welcome(document: dict[str, Any]) -> None:
    assert {} in document["paths"]["/api/v1/products/"]["get"]["security"]
    assert {} not in document["paths"]["/api/v1/products/"]["post"]["security"]
    assert {} not in document["paths"]["/api/v1/addresses/"]["get"]["security"]


def test_strict_request_bodies_forbid_unknown_properties(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["CheckoutInputRequest"]["additionalProperties"] is False
    assert schemas["PatchedAddressInputRequest"]["additionalProperties"] is False


def test_query_parameters_are_bounded_and_may_be_empty(document: dict[str, Any]) -> None:
    parameters = {p["name"]: p for p in document["paths"]["/api/v1/orders/"]["get"]["parameters"]}
    assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}
    assert parameters["ordering"]["schema"]["enum"] == [
        "created_at",
        "-created_at",
        "total",
        "-total",
    ]
    assert all(p["allowEmptyValue"] for p in parameters.values())
    products = {p["name"]: p for p in document["paths"]["/api/v1/products/"]["get"]["parameters"]}
    assert products["min_price"]["schema"]["type"] == "string"  # money is never a float


def test_a_staff_action_checked_on_the_object_documents_its_403() -> None:
    from drf_spectacular.generators import SchemaGenerator

    document = SchemaGenerator().get_schema(request=None, public=True)
    fulfil = document["paths"]["/api/v1/orders/{id}/fulfil/"]["post"]["responses"]
    assert "403" in fulfil
    cancel = document["paths"]["/api/v1/orders/{id}/cancel/"]["post"]["responses"]
    assert "403" not in cancel  # a guest with the token may cancel: nothing to refuse
