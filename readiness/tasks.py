"""Celery interface of the readiness app."""

from celery import shared_task
from django.utils import timezone


@shared_task(ignore_result=True)
def expire_waivers() -> int:
    """Record expired waivers and notify their owners."""
    from readiness.services import waivers_expire

    return waivers_expire(now=timezone.now())


@shared_task(ignore_result=True)
def prune_history() -> dict[str, int]:
    """Thin old evaluations and their checks (hourly)."""
    from readiness.services import evaluations_prune

    return evaluations_prune(now=timezone.now())
