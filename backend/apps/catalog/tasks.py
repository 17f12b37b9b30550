"""Catalogue tasks (``maintenance`` queue): the hourly stock reconciliation, run by beat."""

from __future__ import annotations

from celery import shared_task

from apps.catalog.stock import stock_reconcile
from workers.base import BaseTask


@shared_task(base=BaseTask, name="apps.catalog.tasks.stock_reconcile_task")
def stock_reconcile_task() -> int:
    return len(stock_reconcile())
