"""The dashboard's own rows: heartbeats of the periodic work."""

from django.db import models


class Heartbeat(models.Model):
    """When a periodic job last ran (`beat`: the scheduler's poll tick, every 10 s)."""

    name = models.CharField(max_length=32, unique=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.at:%Y-%m-%d %H:%M:%S}"
