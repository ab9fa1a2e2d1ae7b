"""Readiness: evaluations and their checks, waivers with their audit trail, cluster policies."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from clusters.models import Cluster


class Evaluation(models.Model):
    """One scoring of one snapshot of a cluster; kept for history."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="evaluations")
    environment = models.CharField(max_length=16)
    snapshot_at = models.DateTimeField()
    evaluated_at = models.DateTimeField()
    score = models.PositiveSmallIntegerField()
    grade = models.CharField(max_length=1)
    grade_capped = models.BooleanField(default=False)
    # Nodes the snapshot saw "unknown" (a manager settling after a restart): no notices then.
    nodes_unknown = models.PositiveIntegerField(default=0, db_default=0)
    categories = models.JSONField(default=dict)  # name -> {"score": int, "rules": int}
    summary = models.JSONField(default=dict)  # critical, warning, info, waived, passed
    rules = models.JSONField(default=list)  # the score's explanation, one entry per rule
    new_failures = models.JSONField(default=list)  # [rule, object type, object name] since last
    resolved_failures = models.JSONField(default=list)

    class Meta:
        ordering = ["-evaluated_at", "-id"]
        indexes = [models.Index(fields=["cluster", "-evaluated_at"])]

    def __str__(self) -> str:
        return f"{self.cluster} {self.evaluated_at:%Y-%m-%d %H:%M} {self.score} {self.grade}"


class CheckResult(models.Model):
    """One check of an evaluation (pass, fail, waived or not evaluated)."""

    # No single-column indexes on the foreign keys: (evaluation, status) serves evaluation
    # lookups and a partial index the few waived rows; each index costs every poll's COPY.
    # No database constraints either (db_constraint=False): PostgreSQL checks a deferred
    # foreign key row by row at commit, 0.76 s for the 91,565 failing checks a poll of the
    # 100,000-task bench swarm stores (docs/performance.md). Checks are only written by
    # readiness.services with the evaluation it has just created in the same transaction, and
    # deleted through the ORM, whose on_delete (CASCADE, SET_NULL) runs in Django either way
    # (tests/readiness/test_check_integrity.py).
    evaluation = models.ForeignKey(
        Evaluation,
        on_delete=models.CASCADE,
        related_name="checks",
        db_index=False,
        db_constraint=False,
    )
    rule = models.CharField(max_length=64)
    category = models.CharField(max_length=32)
    severity = models.CharField(max_length=8)
    status = models.CharField(max_length=16)
    object_type = models.CharField(max_length=16)
    object_id = models.CharField(max_length=128, blank=True, default="")
    object_name = models.CharField(max_length=255)
    message = models.TextField()
    remediation = models.TextField(blank=True, default="")
    waiver = models.ForeignKey(
        "Waiver",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,  # as for evaluation: 0.11 s at commit even for NULLs
    )

    class Meta:
        ordering = ["id"]
        indexes = [
            # (evaluation, status, rule): the findings page's first rows of a rule in an
            # evaluation (readiness.findings) as well as every evaluation lookup.
            models.Index(
                fields=["evaluation", "status", "rule"], name="checkresult_eval_status_rule"
            ),
            models.Index(
                fields=["waiver"], condition=Q(waiver__isnull=False), name="checkresult_waived"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.object_name}: {self.status}"


class FailureChange(models.Model):
    """A failure that appeared or was resolved at an evaluation (the evaluation's new and
    resolved failures, one row each), kept WATCHKEEPER_CHANGE_DAYS whatever the thinning of
    evaluations: "what changed in the last 7 days" and the weekly digest sum these."""

    # No database constraint, as for CheckResult: a first poll of the bench swarm writes
    # 85,061 of these, each checked at commit; deleted with its cluster by the ORM.
    cluster = models.ForeignKey(
        Cluster, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    at = models.DateTimeField()  # the evaluation's evaluated_at
    appeared = models.BooleanField()  # False: resolved (or waived)
    rule = models.CharField(max_length=64)
    severity = models.CharField(max_length=8)
    object_type = models.CharField(max_length=16)
    object_name = models.CharField(max_length=255)
    message = models.TextField(blank=True, default="")
    # Written with the row by readiness.services: the latest `at` of the cluster's earlier rows
    # of the same failure (rule, object type, object name), None when none is kept. "What
    # changed" reads only the failures with more than one row in its span and counts the
    # others (readiness.changes.net_change_count). A row not linked is always read.
    linked = models.BooleanField(default=False, db_default=False)
    previous_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        # Also failurechange_failure on (cluster, appeared, rule, object type, object name,
        # at), in code point order on PostgreSQL (COLLATE "C", which an Index here cannot say
        # for SQLite too): made by migration readiness/0009. It serves a cluster's rows too
        # (all kept rows are those of 8 days, the span 7): a (cluster, at) index as well drew
        # the planner away from it for the latest row of a failure.
        indexes = [
            models.Index(
                fields=["cluster", "at"],
                condition=Q(linked=False) | Q(previous_at__isnull=False),
                name="failurechange_followed",
            ),
        ]

    def __str__(self) -> str:
        verb = "appeared" if self.appeared else "resolved"
        return f"{self.rule} {self.object_name} {verb} {self.at:%Y-%m-%d %H:%M}"


class Waiver(models.Model):
    """An accepted exception: a rule on a cluster, optionally only for some objects."""

    MAX_DAYS = 180

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="waivers")
    rule = models.CharField(max_length=64)
    selector = models.CharField(
        max_length=255,
        blank=True,
        default="",
        help_text="empty = every object; an object name glob (web-*); or label=value",
    )
    reason = models.TextField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_waivers"
    )
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expired_at = models.DateTimeField(null=True, blank=True)  # expiry handled (owner notified)

    class Meta:
        ordering = ["expires_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(reason=""), name="waiver_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} on {self.cluster} ({self.selector or 'all'})"

    def is_active(self, now) -> bool:
        """Applies at NOW: not revoked and not yet expired."""
        return self.revoked_at is None and self.expires_at > now


class WaiverEvent(models.Model):
    """The audit trail of waivers: who did what, when."""

    class Action(models.TextChoices):
        CREATED = "created"
        REVOKED = "revoked"
        EXPIRED = "expired"

    waiver = models.ForeignKey(Waiver, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=16, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()
    detail = models.JSONField(default=dict)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"waiver {self.waiver_id} {self.action} at {self.at:%Y-%m-%d %H:%M}"


class ClusterPolicy(models.Model):
    """The cluster's readiness thresholds (readiness.policy.Policy as JSON; {} = defaults)."""

    cluster = models.OneToOneField(
        Cluster, on_delete=models.CASCADE, related_name="readiness_policy"
    )
    data = models.JSONField(default=dict)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"policy of {self.cluster}"


class DailyScore(models.Model):
    """Each cluster's lowest score per UTC day, for the score sparklines.

    Written by the database, not by Django: a statement trigger on readiness_evaluation
    (migration 0003) folds every inserted evaluation into its day, so the fleet page reads 30
    rows per cluster instead of every evaluation of the detail window (a poll a minute is
    2,880 a day per cluster). Thinning evaluations leaves it alone; kept HISTORY_DAYS days.
    """

    cluster = models.ForeignKey(
        Cluster, on_delete=models.CASCADE, related_name="+", db_index=False
    )  # the unique (cluster, day) index serves it
    day = models.DateField()
    low = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cluster", "day"], name="dailyscore_unique_day")
        ]

    def __str__(self) -> str:
        return f"{self.cluster_id} {self.day} {self.low}"


class RuleCount(models.Model):
    """How many failing or waived checks an evaluation has per (rule, category, severity,
    status): the findings page's counts without reading every check.

    Written by the database, not by Django (PostgreSQL only): statement triggers on
    readiness_checkresult (migration 0005) add each inserted statement's checks and recount the
    evaluations whose checks are deleted or updated, so it always equals the checks stored.
    Checks are never changed after their evaluation is stored (a waiver re-scores into a new
    evaluation). On SQLite the table stays empty and the page counts the checks themselves.
    """

    evaluation = models.ForeignKey(
        Evaluation, on_delete=models.CASCADE, related_name="+", db_index=False
    )  # the unique index below leads with it
    rule = models.CharField(max_length=64)
    category = models.CharField(max_length=32)
    severity = models.CharField(max_length=8)
    status = models.CharField(max_length=16)
    checks = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["evaluation", "rule", "category", "severity", "status"],
                name="rulecount_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.evaluation_id} {self.rule} {self.severity} {self.status}: {self.checks}"


class CurrentCount(models.Model):
    """Each cluster's failing and waived checks per rule in its LATEST evaluation (the
    RuleCount rows of that evaluation, by rule), with the cluster's name: the findings page
    reads each rule's most affected clusters and first rows from its indexes without reading
    every cluster's counts.

    Written by the database, not by Django (PostgreSQL only; empty on SQLite): statement
    triggers (migration 0008) recount a cluster's rows when a newer evaluation of it is stored,
    when the RuleCount rows of its latest evaluation change (its checks arrive, or are deleted)
    and when its latest evaluation is deleted (deleting a cluster deletes its evaluations
    first); renaming a cluster renames its rows. MIXED marks a rule whose checks span more
    than one (category, severity) in that evaluation (scoring never does that): the page then
    counts from RuleCount.
    """

    cluster = models.ForeignKey(
        Cluster,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )  # kept by the triggers; the unique index leads with it
    cluster_name = models.CharField(max_length=64)
    evaluation_id = models.BigIntegerField()
    rule = models.CharField(max_length=64)
    category = models.CharField(max_length=32)
    severity = models.CharField(max_length=8)  # the highest, when MIXED
    severity_rank = models.PositiveSmallIntegerField()  # checks.severity_rank(severity)
    failing = models.PositiveIntegerField()
    waived = models.PositiveIntegerField()
    mixed = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cluster", "rule"], name="currentcount_unique")
        ]

    def __str__(self) -> str:
        return f"{self.cluster_name} {self.rule}: {self.failing} failing, {self.waived} waived"
