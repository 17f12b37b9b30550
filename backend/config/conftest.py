"""Fixtures of the OpenAPI conformance tests: the generated document, its openapi-core
validator and a recorder (``config/conformance.py``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator
from openapi_core import OpenAPI

from config.conformance import Recorder


@pytest.fixture(scope="module")
def document(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        generated = SchemaGenerator().get_schema(request=None, public=True)
    # The served document is YAML/JSON: round-trip it so that only JSON types remain.
    return dict(json.loads(json.dumps(generated, default=str)))


@pytest.fixture(scope="module")
def openapi(document: dict[str, Any]) -> OpenAPI:
    return OpenAPI.from_dict(document)


@pytest.fixture
def record(openapi: OpenAPI) -> Recorder:
    return Recorder(openapi)
