"""Watchkeeper: readiness scorecards and maintenance scheduling for Docker Swarm."""

from .celery import app as celery_app

__all__ = ["celery_app"]
