"""Query-parameter filters of the ops lists (django-filter): invalid values are a 400."""

from __future__ import annotations

import django_filters
from celery import states
from django_celery_results.models import TaskResult

from apps.payments.models import WebhookEvent


class TaskResultFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(
        field_name="status", choices=[(state, state) for state in sorted(states.ALL_STATES)]
    )
    name = django_filters.CharFilter(field_name="task_name", lookup_expr="icontains")

    class Meta:
        model = TaskResult
        fields = ["state", "name"]


class WebhookEventFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=WebhookEvent.Status.choices)
    provider = django_filters.CharFilter(field_name="provider")

    class Meta:
        model = WebhookEvent
        fields = ["status", "provider"]
