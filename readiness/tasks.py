"""Celery interface of the readiness app (waiver expiry notifies: dashboard.tasks)."""

from celery import shared_task
from django.utils import timezone

from readiness.services import evaluations_prune


@shared_task(ignore_result=True)
def prune_history() -> dict[str, int]:
    """Thin old evaluations and their checks (hourly)."""
    return evaluations_prune(now=timezone.now())
