"""Celery interface of the maintenance app."""

from celery import shared_task


@shared_task(ignore_result=True)
def tick() -> None:
    """One pass of the maintenance scheduler."""
