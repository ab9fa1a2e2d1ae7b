"""`manage.py channel add NAME --kind KIND (--url-file FILE | --url URL) [--cluster NAME]`,
`channel list`, `channel test NAME`, `channel deliveries NAME`, `channel enable|disable NAME`,
`channel delete NAME`.

The URL is secret (it carries the chat service's token): prefer --url-file (or `-` for stdin)
to --url, which shows in the process list and shell history. It is never printed back.
Exit 2 with a clear message on bad input; nothing is stored then.
"""

import sys

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils import timezone

from audit.commands import AuditedCommand
from clusters.models import Cluster
from maintenance import selectors
from maintenance.models import Channel, Reminder
from maintenance.services import channels as channel_services
from watchkeeper.timefmt import iso_utc


def _read(path: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}", returncode=2) from None


class Command(AuditedCommand):
    help = "Notification channels: add, list, test, deliveries, enable, disable, delete."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="add a channel (for one cluster or all)")
        add.add_argument("name")
        add.add_argument("--kind", choices=Channel.Kind.values, required=True)
        source = add.add_mutually_exclusive_group(required=True)
        source.add_argument("--url-file", metavar="FILE", help="file holding the URL (- for stdin)")
        source.add_argument("--url", help="the URL itself (visible in the process list)")
        add.add_argument("--cluster", default=None, help="only this cluster's notifications")
        add.add_argument(
            "--signing-secret-file",
            metavar="FILE",
            default=None,
            help="webhook: file holding the HMAC key (default: a random key, printed once)",
        )
        actions.add_parser("list", help="list channels (never their URLs)")
        for name, text in (
            ("test", "send a test message now and print the outcome"),
            ("deliveries", "the channel's last deliveries"),
            ("enable", "turn the channel on"),
            ("disable", "turn the channel off"),
            ("delete", "delete the channel and its delivery rows"),
        ):
            sub = actions.add_parser(name, help=text)
            sub.add_argument("name")
            if name == "deliveries":
                sub.add_argument("--last", type=int, default=20)

    def handle(self, *args, action, **options):
        return getattr(self, f"handle_{action}")(**options)

    @staticmethod
    def _channel(name: str) -> Channel:
        channel = Channel.objects.select_related("cluster").filter(name=name).first()
        if channel is None:
            raise CommandError(f"no channel named {name!r}", returncode=2)
        return channel

    def handle_add(self, *, name, kind, url_file, url, cluster, signing_secret_file, **_):
        target = None
        if cluster:
            target = Cluster.objects.filter(name=cluster).first()
            if target is None:
                raise CommandError(f"no cluster named {cluster!r}", returncode=2)
        url = _read(url_file).strip() if url_file else url
        key = _read(signing_secret_file).strip() if signing_secret_file else ""
        try:
            channel = channel_services.channel_create(
                name=name,
                kind=kind,
                url=url,
                cluster=target,
                signing_secret=key,
                now=timezone.now(),
            )
        except ValidationError as exc:
            raise CommandError(exc.messages[0], returncode=2) from None
        self.stdout.write(f"channel {channel.name} added ({channel.get_kind_display()})")
        if kind == Channel.Kind.WEBHOOK and not key:
            self.stderr.write(
                "Signing key (shown once, give it to the receiver): " + channel.secret()["key"]
            )

    def handle_list(self, **_):
        channels = selectors.channels_with_deliveries(last=1)
        if not channels:
            self.stdout.write("no channels")
        for channel in channels:
            scope = channel.cluster.name if channel.cluster_id else "(all clusters)"
            state = "enabled" if channel.enabled else "disabled"
            last = channel.deliveries[0] if channel.deliveries else None
            seen = f"last {last.status} {iso_utc(last.due_at)}" if last else "no deliveries"
            self.stdout.write(f"{channel.name:24} {channel.kind:10} {scope:20} {state:8}  {seen}")

    def handle_test(self, *, name, **_):
        channel = self._channel(name)
        row = channel_services.channel_test(channel=channel, now=timezone.now())
        if row.status != Reminder.Status.SENT:
            raise CommandError(
                f"test message to {channel.name} not delivered: {row.last_error or row.status}",
                returncode=1,
            )
        self.stdout.write(f"test message delivered to {channel.name}")

    def handle_deliveries(self, *, name, last, **_):
        channel = self._channel(name)
        rows = Reminder.objects.filter(channel=channel).order_by("-id")[: max(1, last)]
        if not rows:
            self.stdout.write("no deliveries")
        for row in rows:
            error = f"  {row.last_error[:200]}" if row.last_error else ""
            self.stdout.write(
                f"{iso_utc(row.due_at)}  {row.kind:20} {row.status:8} attempts {row.attempts}"
                f"  {row.title[:80]}{error}"
            )

    def handle_enable(self, *, name, **_):
        channel_services.channel_enable(channel=self._channel(name), enabled=True)
        self.stdout.write(f"channel {name} enabled")

    def handle_disable(self, *, name, **_):
        channel_services.channel_enable(channel=self._channel(name), enabled=False)
        self.stdout.write(f"channel {name} disabled")

    def handle_delete(self, *, name, **_):
        channel_services.channel_delete(channel=self._channel(name))
        self.stdout.write(f"channel {name} deleted")
