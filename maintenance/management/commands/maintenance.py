"""`manage.py maintenance ...`: windows, occurrences, backups, checklists and the tick.

Bad input (unknown cluster or zone, bad weekday, duration out of range) gives a clear
message and exit status 2, and stores nothing.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from audit.commands import AuditedCommand
from clusters.models import Cluster
from maintenance import checklists, evidence, restore_evidence, selectors
from maintenance.models import Backup, Freeze, Window
from maintenance.services import backups as backup_services
from maintenance.services import checklists as checklist_services
from maintenance.services import freezes as freeze_services
from maintenance.services import windows as window_services
from maintenance.services.tick import tick as scheduler_tick
from watchkeeper.timefmt import iso_utc

MAX_RANGE_DAYS = 400


def usage_error(message: str) -> CommandError:
    return CommandError(message, returncode=2)


def parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise usage_error(f"{option} {text!r} is not a date (YYYY-MM-DD).") from None


def parse_instant(text: str, option: str) -> datetime:
    """An ISO 8601 time; without an offset it is read as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise usage_error(f"{option} {text!r} is not an ISO 8601 time.") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_local(text: str, option: str) -> datetime:
    """An ISO 8601 time; without an offset it stays naive (wall time in --tz)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise usage_error(f"{option} {text!r} is not an ISO 8601 time.") from None


def parse_hhmm(text: str) -> time:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text or "")
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise usage_error(f"--start {text!r} is not a local time HH:MM (00:00 to 23:59).")
    return time(int(match[1]), int(match[2]))


def get_cluster(name: str) -> Cluster:
    cluster = Cluster.objects.filter(name=name).first()
    if cluster is None:
        known = ", ".join(Cluster.objects.values_list("name", flat=True)[:20]) or "none"
        raise usage_error(f"Unknown cluster {name!r} (known: {known}).")
    return cluster


def invalid(exc: ValidationError) -> CommandError:
    return usage_error(" ".join(exc.messages))


class Command(AuditedCommand):
    help = "Maintenance windows, occurrences, backup-restore tests, checklists, scheduler tick."

    def add_arguments(self, parser):
        groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")

        window = groups.add_parser("window", help="maintenance windows")
        window_actions = window.add_subparsers(dest="action", required=True, metavar="ACTION")
        add = window_actions.add_parser("add", help="add a window (prints its id first)")
        add.add_argument("cluster")
        kind = add.add_mutually_exclusive_group(required=True)
        kind.add_argument("--weekday", help="weekly shorthand: sun or sun,wed")
        kind.add_argument("--rrule", help="any RFC 5545 RRULE, e.g. FREQ=MONTHLY;BYDAY=2TU")
        kind.add_argument("--once", help="a one-off window on YYYY-MM-DD")
        add.add_argument("--start", required=True, help="local start HH:MM")
        add.add_argument("--duration", required=True, type=int, help="minutes, 5 to 480")
        add.add_argument("--tz", required=True, help="IANA zone, for example Europe/Berlin")
        add.add_argument("--name", default="")

        edit = window_actions.add_parser(
            "edit", help="change a window: only its future occurrences are re-materialised"
        )
        edit.add_argument("id", type=int)
        kind = edit.add_mutually_exclusive_group()
        kind.add_argument("--weekday", help="weekly shorthand: sun or sun,wed")
        kind.add_argument("--rrule", help="any RFC 5545 RRULE")
        kind.add_argument("--once", help="make it a one-off window on YYYY-MM-DD")
        edit.add_argument("--start", help="local start HH:MM")
        edit.add_argument("--duration", type=int, help="minutes, 5 to 480")
        edit.add_argument("--tz", help="IANA zone")
        edit.add_argument("--name")
        delete = window_actions.add_parser(
            "delete", help="delete a window (its past occurrences stay as history)"
        )
        delete.add_argument("id", type=int)

        listing = groups.add_parser("occurrences", help="list occurrences in a date range")
        listing.add_argument("cluster")
        listing.add_argument("--from", dest="first", required=True, help="YYYY-MM-DD")
        listing.add_argument("--to", dest="last", required=True, help="YYYY-MM-DD")
        listing.add_argument("--format", choices=["text", "json"], default="text")

        backup = groups.add_parser("backup", help="backup-restore tests")
        backup_actions = backup.add_subparsers(dest="action", required=True, metavar="ACTION")
        badd = backup_actions.add_parser("add", help="register a backup")
        badd.add_argument("cluster")
        badd.add_argument("name")
        badd.add_argument("--every", type=int, default=90, help="days, 30 to 90 (default 90)")
        badd.add_argument("--validated-at", default=None, help="last passed restore test, ISO")
        badd.add_argument(
            "--kind",
            choices=("data", "swarm_raft"),
            default="data",
            help="what is backed up: application data (default) or the swarm's raft state",
        )
        brec = backup_actions.add_parser(
            "record", help="record a restore test from restic, kopia or velero output"
        )
        brec.add_argument("test", help="the backup: CLUSTER/NAME or its id")
        brec.add_argument("--from", dest="source", required=True, choices=evidence.KINDS)
        brec.add_argument("files", nargs="+", metavar="FILE", help="the tool's output file(s)")
        brec.add_argument("--max-age", type=int, default=None, help="set the test's max age, h")
        bval = backup_actions.add_parser("validate", help="record a restore test")
        bval.add_argument("cluster")
        bval.add_argument("name")
        bval.add_argument("--evidence", required=True)
        bval.add_argument("--failed", action="store_true", help="the restore test failed")

        checklist = groups.add_parser("checklist", help="checklists")
        checklist_actions = checklist.add_subparsers(dest="action", required=True, metavar="ACTION")
        start = checklist_actions.add_parser("start", help="start a checklist run")
        start.add_argument("cluster")
        start.add_argument("--template", required=True, choices=sorted(checklists.TEMPLATES))
        start.add_argument("--at", required=True, help="target time, ISO (local to --tz)")
        start.add_argument("--tz", required=True)
        start.add_argument(
            "--dns-name", default="", help="switchover: the DNS name its DNS step checks"
        )

        freeze = groups.add_parser("freeze", help="skip dates and freeze periods")
        freeze_actions = freeze.add_subparsers(dest="action", required=True, metavar="ACTION")
        fadd = freeze_actions.add_parser("add", help="add a freeze (or one skip date)")
        fadd.add_argument("name")
        fadd.add_argument("--from", dest="first", required=True, help="first day, YYYY-MM-DD")
        fadd.add_argument("--to", dest="last", default=None, help="last day (default: --from)")
        fadd.add_argument("--cluster", default=None, help="one cluster (default: all clusters)")
        freeze_actions.add_parser("list", help="list freezes")
        fdel = freeze_actions.add_parser("delete", help="delete a freeze by id")
        fdel.add_argument("id", type=int)

        tick = groups.add_parser("tick", help="one pass of the scheduler")
        tick.add_argument("--now", default=None, help="evaluate as if the clock read ISO")

    def handle(self, *args, **options):
        group = options["group"]
        if group == "window":
            return getattr(self, f"window_{options['action']}")(options)
        if group == "occurrences":
            return self.occurrences(options)
        if group == "backup":
            if options["action"] == "add":
                return self.backup_add(options)
            if options["action"] == "record":
                return self.backup_record(options)
            return self.backup_validate(options)
        if group == "checklist":
            return self.checklist_start(options)
        if group == "freeze":
            return getattr(self, f"freeze_{options['action']}")(options)
        return self.tick(options)

    # --- subcommands --------------------------------------------------------

    def window_add(self, options):
        cluster = get_cluster(options["cluster"])
        start = parse_hhmm(options["start"])
        try:
            window = window_services.window_create(
                cluster=cluster,
                weekdays=options["weekday"] or "",
                rrule=options["rrule"] or "",
                once=parse_date(options["once"], "--once") if options["once"] else None,
                start_time=start,
                duration_minutes=options["duration"],
                tz=options["tz"],
                name=options["name"],
                now=timezone.now(),
            )
        except ValidationError as exc:
            raise invalid(exc) from None
        if window.duration_warning:
            self.stderr.write(f"warning: {window.duration_warning}")
        self.stdout.write(str(window.pk))
        self._print_window(window)

    def _window(self, pk: int):
        window = Window.objects.select_related("cluster").filter(pk=pk).first()
        if window is None:
            raise usage_error(f"No window with id {pk}.")
        return window

    def window_edit(self, options):
        window = self._window(options["id"])
        changes = {}
        if options["weekday"]:
            changes["weekdays"] = options["weekday"]
        if options["rrule"]:
            changes["rrule"] = options["rrule"]
        if options["once"]:
            changes["once"] = parse_date(options["once"], "--once")
        if options["start"]:
            changes["start_time"] = parse_hhmm(options["start"])
        for option, field in (("duration", "duration_minutes"), ("tz", "tz"), ("name", "name")):
            if options[option] is not None:
                changes[field] = options[option]
        if not changes:
            raise usage_error("Nothing to change: give --weekday/--rrule/--once, --start, "
                              "--duration, --tz or --name.")  # fmt: skip
        try:
            window = window_services.window_update(window=window, now=timezone.now(), **changes)
        except ValidationError as exc:
            raise invalid(exc) from None
        if window.duration_warning:
            self.stderr.write(f"warning: {window.duration_warning}")
        self._print_window(window)

    def window_delete(self, options):
        window = self._window(options["id"])
        name = window.name
        removed = window_services.window_delete(window=window, now=timezone.now())
        how = "deleted" if removed else "deleted; its past occurrences stay as history"
        self.stdout.write(f"Window {options['id']} {name!r} {how}.")

    def _print_window(self, window):
        self.stdout.write(
            f"Window {window.pk} {window.name!r} on {window.cluster.name}: {window.schedule} "
            f"({window.rrule}) "
            f"{window.start_time:%H:%M} {window.tz}, {window.duration_minutes} min, "
            f"from {window.active_from}."
        )
        nxt = window.occurrences.filter(start__gt=timezone.now()).first()
        if nxt:
            self.stdout.write(f"Next: {nxt.local_start} ({nxt.start:%Y-%m-%dT%H:%M}Z)")

    def occurrences(self, options):
        cluster = get_cluster(options["cluster"])
        first = parse_date(options["first"], "--from")
        last = parse_date(options["last"], "--to")
        if last < first:
            raise usage_error("--to is before --from.")
        if (last - first).days > MAX_RANGE_DAYS:
            raise usage_error(f"Ask for at most {MAX_RANGE_DAYS} days at a time.")
        now = timezone.now()
        with transaction.atomic():
            for window in cluster.maintenance_windows.all():
                window_services.occurrences_materialise(
                    window=window, now=now, first_day=first, last_day=last
                )
        rows = [
            {
                "window": occurrence.window.name,
                "start": iso_utc(occurrence.start),
                "end": iso_utc(occurrence.end),
                "local_start": occurrence.local_start,
                "status": occurrence.status,
            }
            for occurrence in selectors.occurrences_between(
                cluster=cluster, first_day=first, last_day=last
            )
        ]
        if options["format"] == "json":
            self.stdout.write(json.dumps(rows, indent=2))
            return
        for row in rows:
            self.stdout.write(
                f"{row['start']}  {row['end']}  {row['local_start']}  "
                f"{row['status']:<11}  {row['window']}"
            )
        if not rows:
            self.stdout.write("No occurrences in that range.")

    def backup_add(self, options):
        cluster = get_cluster(options["cluster"])
        validated_at = (
            parse_instant(options["validated_at"], "--validated-at")
            if options["validated_at"]
            else None
        )
        try:
            backup = backup_services.backup_create(
                cluster=cluster,
                name=options["name"],
                interval_days=options["every"],
                validated_at=validated_at,
                kind=options["kind"],
                now=timezone.now(),
            )
        except ValidationError as exc:
            raise invalid(exc) from None
        self._print_backup(backup)

    def backup_record(self, options):
        test = options["test"]
        if test.isdigit():
            backup = Backup.objects.select_related("cluster").filter(pk=int(test)).first()
        else:
            cluster_name, _, name = test.partition("/")
            backup = Backup.objects.filter(cluster=get_cluster(cluster_name), name=name).first()
        if backup is None:
            raise usage_error(f"No backup {test!r} (give CLUSTER/NAME or the backup's id).")
        texts = []
        for path in options["files"]:
            try:
                with open(path, encoding="utf-8") as handle:
                    texts.append(handle.read(evidence.MAX_TEXT + 1))
            except (OSError, UnicodeDecodeError) as exc:
                raise usage_error(f"Cannot read {path}: {exc}. Nothing was recorded.") from None
        try:
            with transaction.atomic():
                if options["max_age"] is not None:
                    restore_evidence.backup_set_max_age(backup=backup, hours=options["max_age"])
                validation = restore_evidence.backup_record(
                    backup=backup, kind=options["source"], texts=texts, now=timezone.now(),
                    by_name="manage.py",
                )  # fmt: skip
        except ValidationError as exc:
            raise invalid(exc) from None
        self.stdout.write(validation.evidence)
        self._print_backup(backup)

    def backup_validate(self, options):
        cluster = get_cluster(options["cluster"])
        backup = Backup.objects.filter(cluster=cluster, name=options["name"]).first()
        if backup is None:
            raise usage_error(f"Cluster {cluster.name} has no backup named {options['name']!r}.")
        try:
            backup_services.backup_validate(
                backup=backup,
                evidence=options["evidence"],
                passed=not options["failed"],
                by_name="manage.py",
                now=timezone.now(),
            )
        except ValidationError as exc:
            raise invalid(exc) from None
        self._print_backup(backup)

    def _print_backup(self, backup):
        for item, state in selectors.backup_states(cluster=backup.cluster, now=timezone.now()):
            if item.pk == backup.pk:
                due = f", due {state.due_at:%Y-%m-%d}" if state.due_at else ""
                self.stdout.write(
                    f"Backup {item.name!r} on {item.cluster.name}: every {item.interval_days} "
                    f"days, {state.state}{due}."
                )

    def checklist_start(self, options):
        cluster = get_cluster(options["cluster"])
        target = parse_local(options["at"], "--at")
        try:
            run = checklist_services.checklist_start(
                cluster=cluster,
                template=options["template"],
                target=target,
                tz=options["tz"],
                now=timezone.now(),
                dns_hostname=options["dns_name"],
            )
        except ValidationError as exc:
            raise invalid(exc) from None
        self.stdout.write(f"{run.title} for {cluster.name}, target {iso_utc(run.target_at)}:")
        for step in run.steps.all():
            self.stdout.write(f"  {step.offset_label:<6} {iso_utc(step.due_at)}  {step.title}")

    def freeze_add(self, options):
        cluster = get_cluster(options["cluster"]) if options["cluster"] else None
        first = parse_date(options["first"], "--from")
        last = parse_date(options["last"], "--to") if options["last"] else None
        try:
            item, cancelled = freeze_services.freeze_add(
                name=options["name"], first_day=first, last_day=last, cluster=cluster,
                now=timezone.now(),
            )  # fmt: skip
        except ValidationError as exc:
            raise invalid(exc) from None
        self.stdout.write(str(item.pk))
        self.stdout.write(
            f"Freeze {item.pk} {item.name!r} for {item.scope}: {item.first_day} to "
            f"{item.last_day}; {cancelled} scheduled occurrence(s) cancelled."
        )

    def freeze_list(self, options):
        rows = Freeze.objects.select_related("cluster").order_by("first_day", "name")
        for item in rows:
            self.stdout.write(
                f"{item.pk:>5}  {item.first_day}  {item.last_day}  {item.scope:<20}  {item.name}"
            )
        if not rows:
            self.stdout.write("No freezes.")

    def freeze_delete(self, options):
        item = Freeze.objects.filter(pk=options["id"]).first()
        if item is None:
            raise usage_error(f"No freeze with id {options['id']}.")
        back = freeze_services.freeze_delete(freeze=item, now=timezone.now())
        self.stdout.write(f"Freeze {options['id']} deleted; {back} occurrence(s) scheduled again.")

    def tick(self, options):
        now = parse_instant(options["now"], "--now") if options["now"] else timezone.now()
        result = scheduler_tick(now=now)
        self.stdout.write(f"tick {iso_utc(now)}: {result.summary()}")
