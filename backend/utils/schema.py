"""The OpenAPI schema class: documents the error responses every operation can give.

Views declare their success responses (and, where they want a more precise
description, some errors) with ``@extend_schema``. What any operation can answer
besides, because of the layers in front of the view (authentication,
permissions, throttles, the JSON parser, the body size limit, the 404 of a
detail route), is added here from the view's own configuration, so the document
matches what the API really returns and a client (or schemathesis) can rely on it.
Every error body has the one shape of ``utils.errors``.

What does not belong here: per-view descriptions of domain errors (``out_of_stock``,
``invalid_state``): those stay beside the view in ``@extend_schema``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ComponentRegistry, force_instance
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, BasePermission, IsAdminUser, IsAuthenticated

from utils.serializers import StrictInputMixin

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
}


class ErrorSerializer(serializers.Serializer):
    """Every non-2xx body: a stable snake_case code and its details."""

    error = serializers.CharField(help_text="A stable snake_case code such as not_found.")
    details = serializers.DictField(
        child=serializers.JSONField(), help_text="What went wrong; field errors for a 400."
    )


def error_response(description: str) -> OpenApiResponse:
    """A documented error of one operation (a domain code such as ``out_of_stock``)."""
    return OpenApiResponse(ErrorSerializer, description=description)


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
        operation["responses"] = dict(sorted(responses.items()))
        return operation

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
            and not isinstance(permission, (AllowAny, IsAuthenticated, IsAdminUser))
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
        return codes
