"""Query filters of the staff list of returns (``?status=requested``)."""

from __future__ import annotations

import django_filters

from apps.returns.models import ReturnRequest


class ReturnFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ReturnRequest.Status.choices)
    reason = django_filters.ChoiceFilter(choices=ReturnRequest.Reason.choices)

    class Meta:
        model = ReturnRequest
        fields = ["status", "reason"]
