"""The one baseline view: parse the body like any DRF view would, return a constant."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

# Shaped like the product's responses closely enough for the flow client to read
# an ``id`` and an ``access_token`` out of it.
BODY = {
    "id": "00000000-0000-4000-8000-000000000000",
    "status": "ok",
    "access_token": "baseline",
}


class ConstantView(APIView):
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(BODY)

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        request.data  # noqa: B018 - parse the JSON body, as the product's views do
        return Response(BODY, status=201)
