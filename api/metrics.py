"""Prometheus /metrics: computed from the database at scrape time by a custom collector, so
every gunicorn and Celery process reports the same numbers. A constant number of queries,
whatever the number of clusters (tests assert it). docs/metrics.md lists every metric.

Protected by a bearer token (WATCHKEEPER_METRICS_TOKEN, or _FILE) or an address allow-list
(WATCHKEEPER_METRICS_ALLOW: addresses or networks); with neither set, /metrics answers 403.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from accounts import selectors as account_selectors
from accounts.roles import is_global_admin
from clusters.models import Cluster, Node, PollRun
from clusters.selectors import visible_clusters
from maintenance import selectors as maintenance_selectors
from maintenance.models import Reminder
from readiness import findings as readiness_findings
from readiness import selectors as readiness_selectors

log = logging.getLogger(__name__)

GRADES = ("A", "B", "C", "D", "F")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CELERY_QUEUES = ("celery",)


def _clusters(base=None):
    """Every cluster (of the BASE queryset when given) with its latest poll's duration and its
    failed polls since the last good one (one query)."""
    latest_run = PollRun.objects.filter(cluster=OuterRef("pk")).order_by("-started_at", "-id")
    failures = (
        PollRun.objects.filter(cluster=OuterRef("pk"), ok=False)
        .filter(started_at__gt=Coalesce(OuterRef("last_success_at"), Value(EPOCH)))
        .order_by()
        .values("cluster")
        .annotate(n=Count("id"))
        .values("n")
    )
    return list(
        (Cluster.objects.all() if base is None else base)
        .annotate(
            last_duration_ms=Subquery(latest_run.values("duration_ms")[:1]),
            failures=Coalesce(Subquery(failures, output_field=IntegerField()), Value(0)),
        )
        .order_by("name")
    )


class WatchkeeperCollector:
    """Reads the database when Prometheus scrapes; NOW is fixed for one scrape."""

    def __init__(self, *, now: datetime | None = None, queue_length=None, clusters=None):
        """CLUSTERS (a queryset): the scoped view of an API token's user, which has only the
        per-cluster metrics of these clusters (no reminder or queue counts)."""
        self.now = now
        self.queue_length = queue_length or celery_queue_length
        self.scope = clusters

    def collect(self):
        now = self.now or timezone.now()
        clusters = _clusters(self.scope)
        ids = [c.pk for c in clusters]
        names = {c.pk: c.name for c in clusters}
        evaluations = readiness_selectors.evaluations_for_clusters(clusters=clusters)

        info = GaugeMetricFamily(
            "watchkeeper_cluster_info",
            "A watched cluster (always 1).",
            labels=["cluster", "environment"],
        )
        score = GaugeMetricFamily(
            "watchkeeper_cluster_score",
            "Readiness score of the latest evaluation (0-100).",
            labels=["cluster"],
        )
        grade = GaugeMetricFamily(
            "watchkeeper_cluster_grade",
            "1 for the cluster's current grade, 0 for the others.",
            labels=["cluster", "grade"],
        )
        capped = GaugeMetricFamily(
            "watchkeeper_cluster_grade_capped",
            "1 when a failing critical check caps the grade at C.",
            labels=["cluster"],
        )
        waived = GaugeMetricFamily(
            "watchkeeper_cluster_waived_checks",
            "Waived checks in the latest evaluation.",
            labels=["cluster"],
        )
        last_success = GaugeMetricFamily(
            "watchkeeper_cluster_last_success_timestamp_seconds",
            "When the last successful poll ended (Unix time).",
            labels=["cluster"],
        )
        duration = GaugeMetricFamily(
            "watchkeeper_cluster_poll_duration_seconds",
            "Duration of the latest poll.",
            labels=["cluster"],
        )
        failures = GaugeMetricFamily(
            "watchkeeper_cluster_poll_consecutive_failures",
            "Failed polls since the last successful one.",
            labels=["cluster"],
        )
        for cluster in clusters:
            info.add_metric([cluster.name, cluster.environment], 1)
            evaluation = evaluations.get(cluster.pk)
            if evaluation is not None:
                score.add_metric([cluster.name], evaluation.score)
                for letter in GRADES:
                    grade.add_metric([cluster.name, letter], int(evaluation.grade == letter))
                capped.add_metric([cluster.name], int(evaluation.grade_capped))
                waived.add_metric([cluster.name], (evaluation.summary or {}).get("waived", 0))
            if cluster.last_success_at is not None:
                last_success.add_metric([cluster.name], cluster.last_success_at.timestamp())
            if cluster.last_duration_ms is not None:
                duration.add_metric([cluster.name], cluster.last_duration_ms / 1000)
            failures.add_metric([cluster.name], cluster.failures)
        yield from (info, score, grade, capped, waived, last_success, duration, failures)

        failing = GaugeMetricFamily(
            "watchkeeper_cluster_failing_checks",
            "Failing (not waived) checks of the latest evaluation by severity and category.",
            labels=["cluster", "severity", "category"],
        )
        checks, cluster_of = readiness_findings.finding_checks(
            filters=readiness_findings.FindingsFilter(show="open"), clusters=clusters
        )
        rows = (
            checks.filter(status="fail")
            .order_by()
            .values_list("evaluation_id", "severity", "category")
            .annotate(n=Count("id"))
        )
        for evaluation_id, severity, category, n in sorted(
            rows, key=lambda r: (cluster_of[r[0]], r[1], r[2])
        ):
            failing.add_metric([cluster_of[evaluation_id], severity, category], n)
        yield failing

        nodes = GaugeMetricFamily(
            "watchkeeper_cluster_nodes",
            "Nodes in the swarm by state and availability (last good poll).",
            labels=["cluster", "state", "availability"],
        )
        node_rows = (
            Node.objects.filter(cluster_id__in=ids, removed_at__isnull=True)
            .values_list("cluster_id", "state", "availability")
            .annotate(n=Count("id"))
            .order_by("cluster_id", "state", "availability")
        )
        for cluster_id, state, availability, n in node_rows:
            nodes.add_metric([names[cluster_id], state, availability], n)
        yield nodes

        next_window = GaugeMetricFamily(
            "watchkeeper_cluster_next_window_start_timestamp_seconds",
            "Start of the next (or current) maintenance window within 30 days (Unix time).",
            labels=["cluster"],
        )
        upkeep = maintenance_selectors.fleet_maintenance(
            clusters=Cluster.objects.filter(pk__in=ids), now=now
        )
        for cluster_id in sorted(upkeep, key=names.__getitem__):
            if upkeep[cluster_id]["next"] is not None:
                start = upkeep[cluster_id]["next"].start.timestamp()
                next_window.add_metric([names[cluster_id]], start)
        yield next_window

        backups = GaugeMetricFamily(
            "watchkeeper_cluster_backup_tests_overdue",
            "Backups whose restore test is overdue or was never done.",
            labels=["cluster"],
        )
        steps = GaugeMetricFamily(
            "watchkeeper_cluster_checklist_steps_overdue",
            "Checklist steps past due and not done.",
            labels=["cluster"],
        )
        for cluster in clusters:
            counts = upkeep.get(cluster.pk, {})
            backups.add_metric([cluster.name], counts.get("overdue_backups", 0))
            steps.add_metric([cluster.name], counts.get("overdue_steps", 0))
        yield backups
        yield steps
        if self.scope is not None:
            return

        reminders = GaugeMetricFamily(
            "watchkeeper_reminders",
            "Reminders waiting to be sent (pending) and given up on (failed).",
            labels=["status"],
        )
        counts = dict(
            Reminder.objects.filter(status__in=[Reminder.Status.PENDING, Reminder.Status.FAILED])
            .order_by()
            .values_list("status")
            .annotate(n=Count("id"))
        )
        for status in (Reminder.Status.PENDING, Reminder.Status.FAILED):
            reminders.add_metric([status], counts.get(status, 0))
        yield reminders

        lengths = self.queue_length()
        if lengths is not None:
            queue = GaugeMetricFamily(
                "watchkeeper_celery_queue_length",
                "Tasks waiting in a Celery queue (Redis broker only).",
                labels=["queue"],
            )
            for name, length in lengths.items():
                queue.add_metric([name], length)
            yield queue


def celery_queue_length() -> dict[str, int] | None:
    """Each Celery queue's length when the broker is Redis (LLEN); None otherwise or when
    Redis cannot be reached (logged)."""
    url = settings.CELERY_BROKER_URL or ""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            return {name: int(client.llen(name)) for name in CELERY_QUEUES}
        finally:
            client.close()
    except redis.RedisError as exc:
        log.warning("metrics: cannot read the Celery queue length: %s", exc)
        return None


def render(*, now: datetime | None = None, queue_length=None, clusters=None) -> bytes:
    """The Prometheus text exposition of the collector (scoped to CLUSTERS when given)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WatchkeeperCollector(now=now, queue_length=queue_length, clusters=clusters))
    return generate_latest(registry)


def _allowed_address(address: str) -> bool:
    try:
        peer = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in settings.WATCHKEEPER_METRICS_ALLOW:
        try:
            if peer in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _token_ok(request) -> bool:
    expected = settings.WATCHKEEPER_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if not expected or not header.lower().startswith("bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode(), expected.encode())


def _api_token_user(request):
    """The user of a usable API token (wk_...) in the Authorization header, else None."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    found = account_selectors.token_by_secret(secret=header[7:].strip())
    if (
        found is None
        or not found.user.is_active
        or not (found.revoked_at is None and found.expires_at > timezone.now())
    ):
        return None
    return found.user


def view(request):
    """GET /metrics: Prometheus text format, for the metrics token or an allowed address
    (every cluster), or an API token (the scoped view: the clusters its user may see)."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponse("GET only\n", status=405, headers={"Allow": "GET, HEAD"})
    user = _api_token_user(request)
    if user is not None:
        scope = None if is_global_admin(user) else visible_clusters(user)
        return HttpResponse(render(clusters=scope), content_type=CONTENT_TYPE_LATEST)
    allowed = _token_ok(request) or _allowed_address(request.META.get("REMOTE_ADDR", ""))
    if not allowed:
        if not settings.WATCHKEEPER_METRICS_TOKEN:  # no token could help: 403
            text = (
                "this address may not read the metrics (WATCHKEEPER_METRICS_ALLOW), and no "
                "WATCHKEEPER_METRICS_TOKEN is set\n"
            )
            return HttpResponse(text, status=403, content_type="text/plain")
        return HttpResponse(
            "send the metrics token as 'Authorization: Bearer <token>'\n",
            status=401,
            content_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)
