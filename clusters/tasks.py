"""Celery interface of the clusters app."""

from celery import shared_task


@shared_task(ignore_result=True)
def enqueue_due_polls() -> int:
    """Enqueue a poll for every cluster that is due; returns how many were enqueued."""
    return 0
