"""`/healthz` for container health checks: answered before host checks and HTTPS redirects."""

from django.db import DatabaseError, connection
from django.http import HttpResponse

HEALTH_PATH = "/healthz"


class HealthCheckMiddleware:
    """Answer /healthz with 200 when the database responds, 503 otherwise; nothing else."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path != HEALTH_PATH:
            return self.get_response(request)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError as exc:
            return HttpResponse(
                f"database unavailable: {type(exc).__name__}\n",
                status=503,
                content_type="text/plain",
            )
        return HttpResponse("ok\n", content_type="text/plain")
