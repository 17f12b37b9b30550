"""The OpenAPI schema class: documents the error responses every operation can give.

Views declare their success responses (and, where they want a more precise
description, some errors) with ``@extend_schema``. What any operation can answer
besides, because of the layers in front of the view (authentication,
permissions, throttles, the JSON parser, the body size limit, the 404 of a
detail route, a database outage), is added here from the view's own
configuration, so the document matches what the API really returns and a client
(or schemathesis, or openapi-core) can rely on it. Every error body has the one
shape of ``utils.errors``, documented once: ``ErrorSerializer`` (the ``Error``
component), which views use through ``error_response``.

Also here: the response headers (``Retry-After``, ``Idempotent-Replayed``), and a
post-processing hook that writes nullable references the way OpenAPI 3.0 tools
honour.

What does not belong here: per-view descriptions of domain errors (``out_of_stock``,
``invalid_state``): those stay beside the view in ``@extend_schema``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ComponentRegistry, force_instance, get_lib_doc_excludes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission

from utils.serializers import InputSerializer, StrictInputMixin

_WRITE_METHODS = {"POST", "PUT", "PATCH"}
# A signed-in customer, as permission classes see one (is_staff is what they check).
_CUSTOMER = SimpleNamespace(
    is_authenticated=True, is_anonymous=False, is_active=True, is_staff=False, is_superuser=False
)

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "validation_error (details: the field errors), parse_error or bad_request.",
    401: "not_authenticated or authentication_failed (a missing, invalid or expired token).",
    403: "permission_denied.",
    404: "not_found: no such object (or not yours), or a page past the last one.",
    413: "payload_too_large: the body is over the size limit.",
    415: "unsupported_media_type: send application/json.",
    429: "throttled: details.retry_after seconds (also in the Retry-After header).",
    503: "service_unavailable: the database is unavailable; nothing was changed, retry later.",
}
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
_REPLAYED_ERRORS = {"404", "409", "422"}

RETRY_AFTER_HEADER = {
    "Retry-After": {
        "description": "Seconds to wait before sending the request again.",
        "schema": {"type": "integer", "minimum": 1},
    }
}
IDEMPOTENT_REPLAYED_HEADER = {
    "Idempotent-Replayed": {
        "description": (
            "`true` when this is the stored answer to an earlier request with the same "
            "`Idempotency-Key` (nothing was done again); absent on a first answer."
        ),
        "schema": {"type": "string", "enum": ["true"]},
    }
}


class ErrorSerializer(serializers.Serializer):
    """Every non-2xx body: a stable snake_case code and its details."""

    error = serializers.RegexField(
        r"^[a-z][a-z0-9_]*$",
        help_text="A stable snake_case code such as not_found or validation_error.",
    )
    details = serializers.DictField(
        child=serializers.JSONField(),
        help_text=(
            "What went wrong, `{}` when there is nothing to add: the field errors for a "
            "validation_error, else usually a human-readable `message` and the code's own "
            "keys (`retry_after`, `variants`, ...)."
        ),
    )


def error_response(description: str) -> OpenApiResponse:
    """An error response of an operation, in the one error shape."""
    return OpenApiResponse(ErrorSerializer, description=description)


def lib_doc_excludes() -> list[type]:
    """Classes whose docstrings never describe a component (``GET_LIB_DOC_EXCLUDES``).

    DRF's own, and the project's serializer bases: their docstrings are notes for the
    people who work on them, not descriptions of an API object.
    """
    return [*get_lib_doc_excludes(), InputSerializer, StrictInputMixin]


class ErrorAwareAutoSchema(AutoSchema):
    """``AutoSchema`` that documents what the request pipeline can answer besides the view:

    - the error responses (authentication, permissions, throttles, parser, body limit, 404);
    - that an empty query parameter means "not given" (``allowEmptyValue``);
    - anonymous access (``{}`` in ``security``) wherever the permissions let an anonymous
      caller in, not only for DRF's own ``AllowAny`` (the catalogue is public to read);
    - ``additionalProperties: false`` on request bodies whose serializer refuses unknown
      fields (``utils.serializers.StrictInputMixin``).
    """

    def get_operation(
        self,
        path: str,
        path_regex: str,
        path_prefix: str,
        method: str,
        registry: ComponentRegistry,
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            if parameter.get("in") == "query" and not parameter.get("required"):
                # Every query parameter here (filters, ordering, pagination) reads an
                # empty value as "not given", as django-filter does.
                parameter["allowEmptyValue"] = True
        responses: dict[str, Any] = operation.setdefault("responses", {})
        for code in sorted(self._possible_error_codes(operation)):
            if str(code) in responses:
                continue  # the view documents this one itself, more precisely
            response = error_response(ERROR_DESCRIPTIONS[code])
            responses[str(code)] = self._get_response_for_code(response, str(code))
        self._add_response_headers(operation, responses)
        operation["responses"] = dict(sorted(responses.items()))
        # No authentication at all (signed webhooks): say so, rather than say nothing.
        operation.setdefault("security", [{}])
        return operation

    @staticmethod
    def _add_response_headers(operation: dict[str, Any], responses: dict[str, Any]) -> None:
        idempotent = any(
            p.get("in") == "header" and p.get("name") == IDEMPOTENCY_KEY_HEADER
            for p in operation.get("parameters", [])
        )
        for code, response in responses.items():
            headers: dict[str, Any] = response.setdefault("headers", {})
            if code in ("429", "503"):
                headers.update(RETRY_AFTER_HEADER)
            # What the view answered is stored and replayed (not a 400 or a 5xx; the
            # refusals of authentication, parser and throttles come before it).
            if idempotent and (code.startswith("2") or code in _REPLAYED_ERRORS):
                headers.update(IDEMPOTENT_REPLAYED_HEADER)
            if not headers:
                del response["headers"]

    def _get_request_body(self, direction: str = "request") -> Any:
        # drf-spectacular documents a body on POST, PUT and PATCH only; a view whose DELETE
        # reads one (``DELETE /auth/me/`` takes the password) says so with this attribute.
        if self.method != "DELETE" or not getattr(self.view, "delete_reads_body", False):
            return super()._get_request_body(direction)
        declared = self.get_request_serializer()  # while the method is still DELETE
        self.method = "POST"
        self.__dict__["get_request_serializer"] = lambda: declared
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"
            del self.__dict__["get_request_serializer"]

    def get_auth(self) -> list[dict[str, Any]]:
        auths: list[dict[str, Any]] = super().get_auth()
        if {} not in auths and self._permissions_grant(AnonymousUser()):
            auths.append({})
        return auths

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(force_instance(serializer), StrictInputMixin):
            schema["additionalProperties"] = False
        return schema

    def _permissions_grant(self, user: Any) -> bool:
        """Whether the view's permissions let ``user`` call this method (object checks aside)."""
        request = SimpleNamespace(method=self.method, user=user, auth=None)
        try:
            return all(
                permission.has_permission(request, self.view)  # type: ignore[arg-type]
                for permission in self.view.get_permissions()
            )
        except AttributeError:
            return False  # a permission that needs more of the request: assume it may refuse

    def _checks_objects(self) -> bool:
        """Whether a permission refuses some callers only once the object is found."""
        return any(
            type(permission).has_object_permission is not BasePermission.has_object_permission
            for permission in self.view.get_permissions()
        )

    def _possible_error_codes(self, operation: dict[str, Any]) -> set[int]:
        parameters = operation.get("parameters", [])
        has_body = "requestBody" in operation or self.method in _WRITE_METHODS
        codes: set[int] = set()
        if has_body or any(p.get("in") == "query" for p in parameters):
            codes.add(400)
        if has_body:
            codes |= {400, 413, 415}
        authenticators = self.view.get_authenticators()
        if authenticators:
            codes.add(401)
        session_csrf = self.method in _WRITE_METHODS | {"DELETE"} and any(
            isinstance(authenticator, SessionAuthentication) for authenticator in authenticators
        )
        if session_csrf or not self._permissions_grant(_CUSTOMER) or self._checks_objects():
            codes.add(403)
        if any(p.get("in") == "path" for p in parameters):
            codes.add(404)
        if self._is_list_view() and self._get_paginator() is not None:
            codes.add(404)  # a page past the last one
        if self.view.get_throttles():
            codes.add(429)
        codes.add(503)  # every operation reads or writes the database
        return codes


# --- Post-processing --------------------------------------------------------------------

_NULL_ONLY = {"type": "object", "nullable": True, "enum": [None]}


def postprocess_nullable_refs(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """``allOf: [$ref]`` + ``nullable: true`` becomes ``oneOf: [$ref, <null only>]``.

    drf-spectacular writes a nullable nested serializer (an order's ``billing_address``
    and ``payment``, checkout's ``billing_address``) as a ``$ref`` inside ``allOf``
    with ``nullable: true`` beside it. In OpenAPI 3.0 ``nullable`` only adds null to a
    ``type`` in the same schema object, and there is none: strict validators
    (openapi-core, Redocly) reject every ``null`` the API sends. ``oneOf`` of the
    reference and a schema that admits null alone says the same thing in 3.0 terms.
    """

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            all_of = node.get("allOf")
            if (
                node.get("nullable") is True
                and "type" not in node
                and isinstance(all_of, list)
                and len(all_of) == 1
            ):
                del node["nullable"]
                node["oneOf"] = [node.pop("allOf")[0], dict(_NULL_ONLY)]
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(result)
    return result
