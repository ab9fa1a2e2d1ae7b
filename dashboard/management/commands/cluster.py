"""`manage.py cluster add|notify|list|poll|rotate-keys`: clusters from the command line."""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from accounts.models import Team
from audit.commands import AuditedCommand
from clusters import registration
from clusters.connection import display_url
from clusters.endpoint import ClusterInputError, read_pem, read_ssh_file
from clusters.models import Cluster
from clusters.selectors import visible_clusters
from dashboard import pipeline, selectors

USAGE_ERROR = 2


class Command(AuditedCommand):
    help = "Register, list and poll Docker Swarm clusters."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="register a cluster")
        add.add_argument("name")
        add.add_argument("--url", required=True, help="unix:///path, tcp://host:2376, ssh://u@h")
        add.add_argument("--environment", default="production", choices=Cluster.Environment.values)
        add.add_argument("--tls-ca", help="CA certificate (PEM file)")
        add.add_argument("--tls-cert", help="client certificate (PEM file)")
        add.add_argument("--tls-key", help="client key (PEM file); stored encrypted")
        add.add_argument("--ssh-key", help="SSH private key (file); stored encrypted")
        add.add_argument("--ssh-known-hosts", help="known_hosts line(s) of the host (file)")
        add.add_argument(
            "--ssh-accept-new-host-key",
            action="store_true",
            help="instead of --ssh-known-hosts: trust and store the host key the server shows now",
        )
        add.add_argument("--notify", action="append", default=[], metavar="EMAIL")
        add.add_argument("--team", default=None, help="the team that owns it (default: default)")
        notify = sub.add_parser("notify", help="add or remove a notification address")
        notify.add_argument("name")
        group = notify.add_mutually_exclusive_group(required=True)
        group.add_argument("--add", metavar="EMAIL")
        group.add_argument("--remove", metavar="EMAIL")
        listing = sub.add_parser("list", help="list clusters")
        listing.add_argument("--format", choices=["text", "json"], default="text")
        listing.add_argument("--user", default=None, help="only the clusters USER may see")
        listing.add_argument("--team", default=None, help="only the clusters of TEAM")
        poll = sub.add_parser("poll", help="poll and score a cluster now")
        poll.add_argument("name")
        sub.add_parser("rotate-keys", help="re-encrypt credentials with the first key")

    def handle(self, *args, action, **options):
        handler = getattr(self, "handle_" + action.replace("-", "_"))
        try:
            return handler(**options)
        except ClusterInputError as exc:
            raise CommandError(str(exc), returncode=USAGE_ERROR) from None

    def _cluster(self, name: str) -> Cluster:
        cluster = Cluster.objects.filter(name=name).first()
        if cluster is None:
            raise CommandError(f"no cluster named {name!r}.", returncode=USAGE_ERROR)
        return cluster

    @staticmethod
    def _team(name: str | None) -> Team | None:
        if name is None:
            return None
        team = Team.objects.filter(name=name).first()
        if team is None:
            raise CommandError(f"no team named {name!r}.", returncode=USAGE_ERROR)
        return team

    def handle_add(self, *, name, url, environment, tls_ca, tls_cert, tls_key, notify, **opts):
        team = self._team(opts["team"])
        tls = {}
        for kind, path in (("ca", tls_ca), ("cert", tls_cert), ("key", tls_key)):
            if path:
                tls[kind] = read_pem(path, kind)
        ssh = {}
        for option in ("ssh-key", "ssh-known-hosts"):
            path = opts[option.replace("-", "_")]
            if path:
                ssh[option.replace("-", "_")] = read_ssh_file(path, option)
        cluster = registration.cluster_add(
            name=name,
            url=url,
            team=team,
            environment=environment,
            tls=tls,
            notify=notify,
            ssh_accept_new_host_key=opts["ssh_accept_new_host_key"],
            **ssh,
        )
        self.stdout.write(f"added {cluster.name} ({display_url(cluster.url)})")

    def handle_notify(self, *, name, add, remove, **_):
        cluster = self._cluster(name)
        changed = registration.cluster_notify(cluster=cluster, add=add, remove=remove)
        verb = "added" if add else "removed"
        note = "" if changed else " (already there)"
        self.stdout.write(f"{verb} {add or remove} for {cluster.name}{note}")

    def handle_list(self, *, format, user, team, **_):
        clusters = Cluster.objects.all()
        if user is not None:
            person = get_user_model().objects.filter(username=user).first()
            if person is None:
                raise CommandError(f"no user named {user!r}.", returncode=USAGE_ERROR)
            clusters = visible_clusters(person)
        if team is not None:
            clusters = clusters.filter(team=self._team(team))
        entries = selectors.cluster_summaries(clusters=clusters)
        if format == "json":
            self.stdout.write(json.dumps(entries, indent=2))
            return
        if not entries:
            self.stdout.write("no clusters")
        for e in entries:
            poll = e["last_poll"]
            state = "never polled" if poll["at"] is None else ("ok" if poll["ok"] else "FAILED")
            grade = f" grade {e['grade']} ({e['score']})" if e["grade"] is not None else ""
            self.stdout.write(
                f"{e['name']:20} {e['team']:12} {e['environment']:12} {e['url']:40} "
                f"{e['nodes']} nodes, {e['services']} services, last poll {state}{grade}"
            )

    def handle_poll(self, *, name, **_):
        cluster = self._cluster(name)
        outcome = pipeline.cluster_poll(cluster=cluster)
        if outcome is None:
            raise CommandError(f"{cluster.name} is being polled right now; try again shortly.")
        run = outcome.run
        if not run.ok:
            raise CommandError(
                f"poll of {cluster.name} failed: {run.error} (the last good snapshot is kept)"
            )
        truncated = ", events may be missing (buffer overrun)" if run.events_truncated else ""
        self.stdout.write(
            f"{cluster.name}: {run.nodes} nodes, {run.services} services, {run.tasks} running "
            f"tasks, {run.events} events in {run.duration_ms} ms{truncated}"
        )

    def handle_rotate_keys(self, **_):
        count = registration.clusters_rotate_keys()
        self.stdout.write(f"re-encrypted the credentials of {count} cluster(s)")
