"""Maintenance: weekly windows and their occurrences, reboot verifications, backup-restore
tests, checklists and the reminder rows that the periodic tick sends."""

import json

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from clusters.models import Cluster
from watchkeeper import crypto

from . import occurrences as occ
from . import recurrence


class Window(models.Model):
    """A maintenance window: an RFC 5545 RRULE picking local days, a local wall-clock start in
    an IANA zone (never a UTC start) and a duration."""

    cluster = models.ForeignKey(
        Cluster, on_delete=models.CASCADE, related_name="maintenance_windows"
    )
    name = models.CharField(max_length=100)
    rrule = models.CharField(
        max_length=300, help_text="RFC 5545 RRULE value, e.g. FREQ=MONTHLY;BYDAY=2TU"
    )
    start_time = models.TimeField()
    duration_minutes = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(occ.MIN_DURATION), MaxValueValidator(occ.MAX_DURATION)]
    )
    tz = models.CharField(max_length=64)
    active_from = models.DateField()
    active_until = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["cluster", "name"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "name"], name="window_unique_name"),
            models.CheckConstraint(
                condition=models.Q(duration_minutes__gte=occ.MIN_DURATION)
                & models.Q(duration_minutes__lte=occ.MAX_DURATION),
                name="window_duration_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.schedule} {self.start_time:%H:%M} {self.tz})"

    @property
    def kind(self) -> str:
        """weekly, monthly_weekday, monthly_day, every_n_weeks, once or custom."""
        return recurrence.kind_of(self.rrule)

    @property
    def schedule(self) -> str:
        """The rule in words: 'weekly on sun', 'second Tuesday of the month'."""
        return recurrence.describe(self.rrule, self.active_from)

    def is_active_on(self, day) -> bool:
        """Whether DAY (a local date) lies within active-from / active-until."""
        return self.active_from <= day and (self.active_until is None or day <= self.active_until)

    @property
    def duration_warning(self) -> str | None:
        return occ.duration_warning(self.duration_minutes)

    def slots(self, first_day, last_day, skip=frozenset()) -> list[occ.Slot]:
        return recurrence.slots(
            rule=self.rrule,
            skip=skip,
            start_time=self.start_time,
            duration_minutes=self.duration_minutes,
            tz_name=self.tz,
            active_from=self.active_from,
            active_until=self.active_until,
            first_day=first_day,
            last_day=last_day,
        )


class Occurrence(models.Model):
    """One materialised occurrence of a window, in exact UTC."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"
        PARTIAL = "partial"
        MISSED = "missed"
        CANCELLED = "cancelled"

    window = models.ForeignKey(Window, on_delete=models.CASCADE, related_name="occurrences")
    local_date = models.DateField()
    start = models.DateTimeField()
    end = models.DateTimeField()
    local_start = models.CharField(max_length=40, help_text="ISO 8601 with the local offset")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    expected_nodes = models.JSONField(
        default=dict, blank=True, help_text="node id -> hostname, from the snapshot at start"
    )
    drain_state = models.JSONField(default=dict, blank=True)
    cancelled_reason = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        ordering = ["start"]
        constraints = [
            models.UniqueConstraint(fields=["window", "local_date"], name="occurrence_one_per_day"),
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")), name="occ_span"),
        ]
        indexes = [models.Index(fields=["start", "end"])]

    def __str__(self) -> str:
        return f"{self.window.name} {self.local_start}"


class NodeVerification(models.Model):
    """A node's reboot during an occurrence: observed by the poller or confirmed by someone."""

    class Source(models.TextChoices):
        OBSERVED = "observed"
        CONFIRMED = "confirmed"

    occurrence = models.ForeignKey(
        Occurrence, on_delete=models.CASCADE, related_name="verifications"
    )
    node_id = models.CharField(max_length=64)
    hostname = models.CharField(max_length=255, blank=True, default="")
    verified_at = models.DateTimeField()
    source = models.CharField(max_length=16, choices=Source.choices)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["verified_at"]
        constraints = [
            models.UniqueConstraint(fields=["occurrence", "node_id"], name="verification_per_node"),
        ]

    def __str__(self) -> str:
        return f"{self.hostname or self.node_id} {self.source} {self.verified_at:%Y-%m-%d %H:%M}Z"


class Backup(models.Model):
    """A registered backup whose restore is tested every `interval_days`."""

    class Kind(models.TextChoices):
        DATA = "data", "application data"
        SWARM_RAFT = "swarm_raft", "swarm raft state"

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="backups")
    name = models.CharField(max_length=100)
    # What is backed up: the applications' data, or the swarm's own raft state
    # (/var/lib/docker/swarm of a manager: services, secrets, configs, networks).
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.DATA)
    interval_days = models.PositiveSmallIntegerField(
        default=90, validators=[MinValueValidator(30), MaxValueValidator(90)]
    )
    owner = models.CharField(max_length=150, blank=True, default="")
    max_age_hours = models.PositiveIntegerField(
        default=48,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 400)],
        help_text="a restore test of a snapshot older than this fails",
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["cluster", "name"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "name"], name="backup_unique_name"),
            models.CheckConstraint(
                condition=models.Q(interval_days__gte=30) & models.Q(interval_days__lte=90),
                name="backup_interval_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class BackupValidation(models.Model):
    """One restore test: when, by whom, evidence, outcome; from a tool's output, the
    machine-read facts too (source, duration, snapshot time and size)."""

    class Outcome(models.TextChoices):
        PASSED = "passed"
        FAILED = "failed"

    class Source(models.TextChoices):
        MANUAL = "manual"
        RESTIC_CHECK = "restic-check"
        KOPIA_VERIFY = "kopia-verify"
        VELERO_RESTORE = "velero-restore"

    backup = models.ForeignKey(Backup, on_delete=models.CASCADE, related_name="validations")
    validated_at = models.DateTimeField()
    validated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    validated_by_name = models.CharField(max_length=150, blank=True, default="")
    evidence = models.TextField()
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    recorded_at = models.DateTimeField()
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    duration_seconds = models.FloatField(null=True, blank=True)
    snapshot_at = models.DateTimeField(null=True, blank=True)
    snapshot_bytes = models.BigIntegerField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True, help_text="what the tool reported")

    class Meta:
        ordering = ["-validated_at"]

    def __str__(self) -> str:
        return f"{self.backup} {self.outcome} {self.validated_at:%Y-%m-%d}"


class Freeze(models.Model):
    """A change freeze or a skip date: no maintenance on local days [first_day, last_day],
    for one cluster or (cluster empty) for all clusters."""

    cluster = models.ForeignKey(
        Cluster, null=True, blank=True, on_delete=models.CASCADE, related_name="freezes"
    )
    name = models.CharField(max_length=100)
    first_day = models.DateField()
    last_day = models.DateField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["first_day", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(last_day__gte=models.F("first_day")), name="freeze_span"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.first_day}..{self.last_day}"

    @property
    def scope(self) -> str:
        return self.cluster.name if self.cluster_id else "all clusters"

    def covers(self, day) -> bool:
        return self.first_day <= day <= self.last_day


class ChecklistRun(models.Model):
    """A started checklist: a built-in template, a cluster, a target time in a zone."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="checklist_runs")
    template = models.CharField(max_length=32)
    title = models.CharField(max_length=100)
    target_at = models.DateTimeField()
    tz = models.CharField(max_length=64)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-target_at"]

    def __str__(self) -> str:
        return f"{self.title} {self.target_at:%Y-%m-%d %H:%M}Z"


class RunStep(models.Model):
    """A step of a checklist run, due at an offset from the target time."""

    class ProbeResult(models.TextChoices):
        NONE = ""
        PASSED = "passed"
        FAILED = "failed"

    run = models.ForeignKey(ChecklistRun, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    key = models.CharField(max_length=48)
    title = models.CharField(max_length=255)
    detail = models.TextField(blank=True, default="")
    offset_label = models.CharField(max_length=16)
    owner = models.CharField(max_length=150, blank=True, default="")
    due_at = models.DateTimeField()
    done = models.BooleanField(default=False)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    done_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True, default="")
    probe = models.CharField(max_length=16, blank=True, default="")  # "" | "dns"
    probe_target = models.CharField(max_length=255, blank=True, default="")
    probe_result = models.CharField(
        max_length=8, choices=ProbeResult.choices, blank=True, default=""
    )
    probe_at = models.DateTimeField(null=True, blank=True)
    probe_detail = models.TextField(blank=True, default="")
    probe_warning = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="runstep_position"),
        ]

    def __str__(self) -> str:
        return f"{self.offset_label} {self.title}"


class Channel(models.Model):
    """A chat or webhook destination for a cluster's notifications (every cluster's when
    CLUSTER is empty). Its URL (and a webhook's signing secret) are stored encrypted."""

    class Kind(models.TextChoices):
        SLACK = "slack", "Slack"
        TEAMS = "teams", "Microsoft Teams"
        MATTERMOST = "mattermost", "Mattermost"
        DISCORD = "discord", "Discord"
        NTFY = "ntfy", "ntfy"
        PAGERDUTY = "pagerduty", "PagerDuty"
        WEBHOOK = "webhook", "JSON webhook (HMAC-SHA256 signed)"

    name = models.CharField(max_length=100, unique=True)
    cluster = models.ForeignKey(
        Cluster, null=True, blank=True, on_delete=models.CASCADE, related_name="channels"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    secret_encrypted = models.TextField(editable=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def set_secret(self, *, url: str, signing_secret: str = "") -> None:
        """Store the URL (and a webhook's signing secret) encrypted."""
        self.secret_encrypted = crypto.encrypt(json.dumps({"url": url, "key": signing_secret}))

    def secret(self) -> dict:
        """{"url": ..., "key": ...}, decrypted (only the sender calls this)."""
        return json.loads(crypto.decrypt(self.secret_encrypted))


class Reminder(models.Model):
    """One email to one recipient, or one message to one channel, due at a UTC time,
    deduplicated, claimed with a lease."""

    class Kind(models.TextChoices):
        WINDOW_UPCOMING = "window_upcoming"
        WINDOW_NOT_VERIFIED = "window_not_verified"
        BACKUP_DUE_SOON = "backup_due_soon"
        BACKUP_OVERDUE = "backup_overdue"
        CHECKLIST_STEP_DUE = "checklist_step_due"
        WAIVER_EXPIRED = "waiver_expired"
        CRITICAL_FINDING = "critical_finding"
        GRADE_DROP = "grade_drop"
        NODE_DOWN = "node_down"
        CLUSTER_UNREACHABLE = "cluster_unreachable"
        CLUSTER_BACK = "cluster_back"
        CHANNEL_TEST = "channel_test"
        WINDOW_STARTED = "window_started"
        WINDOW_ENDED = "window_ended"
        WEEKLY_DIGEST = "weekly_digest"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"

    cluster = models.ForeignKey(
        Cluster, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    subject_key = models.CharField(max_length=200)
    occurrence = models.ForeignKey(
        Occurrence, null=True, blank=True, on_delete=models.SET_NULL, related_name="reminders"
    )
    recipient = models.EmailField(max_length=254, blank=True)
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders"
    )
    title = models.CharField(max_length=255)
    body = models.TextField()
    due_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    dedup_key = models.CharField(max_length=600, unique=True)
    message_id = models.CharField(max_length=100)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    lease_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    sent_at = models.DateTimeField(
        null=True, blank=True, help_text="when the SMTP server or the receiver accepted it"
    )
    history = models.JSONField(
        default=list, blank=True, help_text="earlier failures, kept when an operator retries"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["status", "lease_until"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} -> {self.destination} ({self.status})"

    @property
    def destination(self) -> str:
        """The address, or the channel's name."""
        return self.channel.name if self.channel_id else self.recipient
