"""Clusters: the swarms Watchkeeper watches."""

import json
import secrets
import zlib
from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from accounts.models import Team
from clusters import snapshot as snapshot_types
from watchkeeper import crypto

STALE_AFTER_INTERVALS = 3
POLL_CLAIM_TIMEOUT = timedelta(minutes=5)


def new_calendar_token() -> str:
    """An unguessable token for the per-cluster calendar feed URL."""
    return secrets.token_urlsafe(24)


def default_poll_interval() -> int:
    return settings.WATCHKEEPER_DEFAULT_POLL_INTERVAL


class Cluster(models.Model):
    """A Docker Swarm reached through one manager's Engine API."""

    class Environment(models.TextChoices):
        PRODUCTION = "production"
        STAGING = "staging"
        DEVELOPMENT = "development"

    name = models.CharField(
        max_length=64,
        unique=True,
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", "Use letters, digits, dot, dash and underscore."
            )
        ],
    )
    team = models.ForeignKey(
        "accounts.Team",
        on_delete=models.PROTECT,
        related_name="clusters",
        help_text="The team that owns the cluster: its members' roles apply to it.",
    )
    environment = models.CharField(
        max_length=16, choices=Environment.choices, default=Environment.PRODUCTION
    )
    url = models.CharField(
        max_length=255, help_text="unix:///path, tcp://host:2376 or ssh://user@host"
    )
    credentials_encrypted = models.TextField(blank=True, default="", editable=False)
    poll_interval = models.PositiveIntegerField(
        default=default_poll_interval, validators=[MinValueValidator(5), MaxValueValidator(86400)]
    )
    enabled = models.BooleanField(default=True)
    drain_assist = models.BooleanField(default=False)
    window_notices = models.BooleanField(
        default=False, help_text="tell recipients and channels when a window starts and ends"
    )
    dns_server = models.CharField(max_length=255, blank=True, default="")
    ingress_addresses = models.CharField(max_length=1024, blank=True, default="")
    calendar_token = models.CharField(max_length=64, unique=True, default=new_calendar_token)
    policy = models.JSONField(
        default=dict, blank=True, help_text="Readiness policy overrides (readiness validates)."
    )
    # Polling: a claim (conditional UPDATE) keeps two polls of one cluster from overlapping.
    poll_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    next_poll_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_poll_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_poll_ok = models.BooleanField(null=True, editable=False)
    last_poll_error = models.CharField(max_length=500, blank=True, default="", editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        """A cluster saved without a team goes to the default team."""
        if self.team_id is None:
            self.team = Team.default()
        super().save(*args, **kwargs)

    def set_credentials(self, material: str) -> None:
        """Store TLS material or other credentials (JSON text) encrypted."""
        self.credentials_encrypted = crypto.encrypt(material) if material else ""

    def get_credentials(self) -> str:
        """Decrypt the stored credentials; only the API client should call this."""
        return crypto.decrypt(self.credentials_encrypted) if self.credentials_encrypted else ""

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)

    def is_stale(self, now: datetime) -> bool:
        """No good poll within three poll intervals (or never one, once three have passed)."""
        reference = self.last_success_at or self.created_at
        return now - reference > timedelta(seconds=STALE_AFTER_INTERVALS * self.poll_interval)


class Recipient(models.Model):
    """Someone who gets a cluster's reminders and notifications: a user or an address."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="recipients")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE
    )
    email = models.EmailField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "email"],
                condition=~models.Q(email=""),
                name="recipient_unique_email",
            ),
            models.UniqueConstraint(
                fields=["cluster", "user"],
                condition=models.Q(user__isnull=False),
                name="recipient_unique_user",
            ),
            models.CheckConstraint(
                condition=~models.Q(email="") | models.Q(user__isnull=False),
                name="recipient_has_address",
            ),
        ]

    def __str__(self) -> str:
        return self.address

    @property
    def address(self) -> str:
        """The email address messages go to."""
        return self.email or (self.user.email if self.user else "")


class Node(models.Model):
    """A swarm node as last reported; kept (marked removed) after it leaves the swarm."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="nodes")
    swarm_id = models.CharField(max_length=64)
    hostname = models.CharField(max_length=255)
    role = models.CharField(max_length=16)
    state = models.CharField(max_length=16)
    availability = models.CharField(max_length=16)
    cpus = models.FloatField(default=0)
    memory_bytes = models.BigIntegerField(default=0)
    engine_version = models.CharField(max_length=64, blank=True, default="")
    addr = models.CharField(max_length=255, blank=True, default="")
    leader = models.BooleanField(default=False)
    reachability = models.CharField(max_length=16, blank=True, default="")
    labels = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField()
    # Stored when the row is written and when it is marked removed (then: the last good poll
    # that saw it). A live row is seen by every good poll and not rewritten for it: seen_at.
    last_seen_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)
    # A hash of the fields above as last written: a poll compares it instead of reading back
    # and decoding every row's JSON fields (see clusters.persistence._sync).
    digest = models.CharField(max_length=32, blank=True, default="", editable=False)
    # The first good poll of the current run of good polls that all saw the node down or
    # disconnected (never "unknown"); None otherwise. A failed poll ends every run: the node
    # is notified down once the run is the cluster's grace long (dashboard.pipeline).
    down_since = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["hostname"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "swarm_id"], name="node_unique_swarm_id")
        ]

    def __str__(self) -> str:
        return self.hostname

    def seen_at(self, cluster: Cluster):
        """When a good poll last saw the node: its CLUSTER's last good poll while it is in
        the swarm, the last one before it left otherwise."""
        if self.removed_at is None and cluster.last_success_at is not None:
            return max(cluster.last_success_at, self.last_seen_at)
        return self.last_seen_at


class Service(models.Model):
    """A swarm service as last reported; kept (marked removed) after it is removed."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="services")
    swarm_id = models.CharField(max_length=64)
    name = models.CharField(max_length=255)
    image = models.CharField(max_length=1024)
    mode = models.CharField(max_length=16)
    replicas = models.PositiveIntegerField(null=True, blank=True)
    running_tasks = models.PositiveIntegerField(default=0)
    desired_tasks = models.PositiveIntegerField(default=0)
    constraints = models.JSONField(default=list, blank=True)
    memory_limit = models.BigIntegerField(null=True, blank=True)
    memory_reservation = models.BigIntegerField(null=True, blank=True)
    cpu_limit = models.FloatField(null=True, blank=True)
    cpu_reservation = models.FloatField(null=True, blank=True)
    healthcheck = models.JSONField(null=True, blank=True)
    labels = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()  # as Node.last_seen_at
    removed_at = models.DateTimeField(null=True, blank=True)
    # A hash of the fields above as last written: a poll compares it instead of reading back
    # and decoding every row's JSON fields (see clusters.persistence._sync).
    digest = models.CharField(max_length=32, blank=True, default="", editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "swarm_id"], name="service_unique_swarm_id")
        ]

    def __str__(self) -> str:
        return self.name


class RunningTask(models.Model):
    """A task the swarm wants running, as of the last good poll (compact; replaced each poll)."""

    # No database constraints (db_constraint=False): PostgreSQL checks deferred foreign keys
    # row by row at commit, 1.2 s for the first poll of a 100,000-task swarm (three each).
    # Only clusters.persistence writes these, with the node and service keys its own upserts
    # just returned in the same transaction; deletes go through the ORM, whose on_delete runs
    # in Django either way (tests/readiness/test_check_integrity.py).
    cluster = models.ForeignKey(
        Cluster, on_delete=models.CASCADE, related_name="running_tasks", db_constraint=False
    )
    node = models.ForeignKey(
        Node,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
        db_constraint=False,
    )
    service = models.ForeignKey(
        Service,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
        db_constraint=False,
    )
    swarm_id = models.CharField(max_length=64)
    slot = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=16)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cluster", "swarm_id"], name="task_unique_swarm_id")
        ]

    def __str__(self) -> str:
        return self.swarm_id


class PollRun(models.Model):
    """One poll of a cluster: when, how long, what it saw, and how it ended."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="poll_runs")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    ok = models.BooleanField(default=False)
    error_kind = models.CharField(max_length=32, blank=True, default="")
    error = models.CharField(max_length=500, blank=True, default="")
    nodes = models.PositiveIntegerField(default=0)
    services = models.PositiveIntegerField(default=0)
    tasks = models.PositiveIntegerField(default=0)
    events = models.PositiveIntegerField(default=0)
    events_until = models.DateTimeField(null=True, blank=True)
    events_truncated = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["cluster", "-started_at"], name="pollrun_cluster_started")]

    def __str__(self) -> str:
        return f"{self.cluster_id} @ {self.started_at:%Y-%m-%d %H:%M:%S}"


def _encode(obj):
    """json.dumps hook giving the same JSON as snapshot.to_dict, without the recursion cost."""
    if isinstance(obj, datetime):
        return obj.isoformat()
    return {name: getattr(obj, name) for name in snapshot_types.data_fields(type(obj))}


class PollSnapshot(models.Model):
    """The snapshot of a good poll, zlib-compressed JSON of clusters.snapshot.to_dict()."""

    poll_run = models.OneToOneField(PollRun, on_delete=models.CASCADE, related_name="snapshot")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="snapshots")
    taken_at = models.DateTimeField()
    data = models.BinaryField()

    class Meta:
        ordering = ["-taken_at"]
        indexes = [models.Index(fields=["cluster", "-taken_at"], name="snapshot_cluster_taken")]

    def __str__(self) -> str:
        return f"{self.cluster_id} @ {self.taken_at:%Y-%m-%d %H:%M:%S}"

    @staticmethod
    def compress(snap: snapshot_types.Snapshot) -> bytes:
        """The stored form of a snapshot: zlib(json(to_dict(snap))), encoded in one pass.

        orjson writes dataclasses (public fields only) and datetimes as to_dict does, some ten
        times faster than json; anything it refuses goes through the json path.
        """
        try:
            text = orjson.dumps(snap)
        except orjson.JSONEncodeError:
            text = json.dumps(snap, default=_encode).encode()
        return zlib.compress(text, 1)

    def load(self) -> snapshot_types.Snapshot:
        """The stored snapshot as dataclasses."""
        return snapshot_types.from_dict(orjson.loads(zlib.decompress(bytes(self.data))))

    def load_swarm(self) -> snapshot_types.SwarmInfo:
        """The stored snapshot's SwarmInfo alone, read from the head of the data.

        The stored JSON starts with the Snapshot's first two fields, taken_at and swarm (both
        encoders write the fields in order), so only its first few KiB are decompressed and
        parsed; a whole snapshot of 100,000 tasks is some hundreds of MiB as objects. Data of
        another shape is loaded whole.
        """
        inflate = zlib.decompressobj()
        data = memoryview(self.data)
        head = b""
        for offset in range(0, len(data), _HEAD_CHUNK):
            head += inflate.decompress(data[offset : offset + _HEAD_CHUNK], _HEAD_LIMIT)
            swarm = _head_swarm(head.decode("utf-8", "ignore"))
            if swarm is not None:
                return snapshot_types.swarm_from_dict(swarm)
            if len(head) >= _HEAD_LIMIT or inflate.eof:
                break
        return self.load().swarm


_HEAD_CHUNK = 4 * 1024  # compressed bytes read at a time
_HEAD_LIMIT = 256 * 1024  # a SwarmInfo is well under 1 KiB: beyond this the data is not as said
_SWARM_KEY = '"swarm":'


def _head_swarm(text: str) -> dict | None:
    """The "swarm" object of a stored snapshot's JSON head TEXT (its second key, after
    "taken_at"), or None while TEXT does not hold all of it yet (or has another shape)."""
    if not text.startswith('{"taken_at":'):
        return None
    start = text.find(_SWARM_KEY)
    if start < 0:
        return None
    try:
        swarm, _ = json.JSONDecoder().raw_decode(text, start + len(_SWARM_KEY))
    except json.JSONDecodeError:
        return None
    return swarm if isinstance(swarm, dict) else None


class NodeTransition(models.Model):
    """A node changing state (ready -> down, down -> ready, ...), seen in an event or a poll."""

    class Source(models.TextChoices):
        EVENT = "event"
        POLL = "poll"

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="transitions")
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=16)
    to_state = models.CharField(max_length=16)
    at = models.DateTimeField()
    source = models.CharField(max_length=8, choices=Source.choices)

    class Meta:
        ordering = ["at"]
        constraints = [
            models.UniqueConstraint(
                fields=["node", "at", "to_state"], name="transition_unique_moment"
            )
        ]
        indexes = [models.Index(fields=["cluster", "at"], name="transition_cluster_at")]

    def __str__(self) -> str:
        return f"{self.node_id}: {self.from_state} -> {self.to_state} @ {self.at}"
