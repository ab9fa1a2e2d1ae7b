"""Celery interface of the maintenance app."""

from celery import shared_task
from django.utils import timezone

from maintenance.services.tick import tick as scheduler_tick


@shared_task(ignore_result=True)
def tick() -> None:
    """One pass of the maintenance scheduler (every minute from beat)."""
    scheduler_tick(now=timezone.now())
