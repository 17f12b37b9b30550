"""Staff API of warehouses: ``/api/v1/warehouses/`` (list, create, read, update, deactivate).

A warehouse is never deleted (stock rows, movements and allocations point at it):
DELETE deactivates it, and an inactive warehouse's stock no longer counts as
available nor is allocated at checkout.
"""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import permissions, serializers

from apps.catalog import services
from apps.catalog.models import Warehouse
from utils.serializers import CountryField, InputSerializer, StrictBooleanField, StrictIntegerField
from utils.views import StaffServices, StaffWriteViewSet, staff_write_schema


class WarehouseOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Warehouse
        fields = [
            "id",
            "code",
            "name",
            "country",
            "priority",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class WarehouseInputSerializer(InputSerializer):
    code = serializers.SlugField(max_length=32)
    name = serializers.CharField(max_length=200)
    country = CountryField()
    priority = StrictIntegerField(
        required=False, min_value=0, max_value=2**31 - 1, help_text="Lower ships first."
    )
    is_active = StrictBooleanField(required=False)


@staff_write_schema(
    input_serializer=WarehouseInputSerializer,
    output_serializer=WarehouseOutputSerializer,
    list_summary="Warehouses, by priority (staff)",
)
class WarehouseViewSet(StaffWriteViewSet):
    """Where stock is kept; checkout takes from active ones by priority, then id."""

    permission_classes = [permissions.IsAdminUser]
    serializer_class = WarehouseOutputSerializer
    input_serializer_class = WarehouseInputSerializer
    filter_backends: list[type] = []
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[Warehouse]:
        return Warehouse.objects.order_by("priority", "id")

    staff_services = StaffServices(
        instance="warehouse",
        create=lambda **data: services.warehouse_create(data=data),
        update=services.warehouse_update,
        deactivate=services.warehouse_deactivate,
    )
