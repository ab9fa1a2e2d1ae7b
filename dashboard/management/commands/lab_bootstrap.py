"""Start the demo Swarm lab for `make run` when no cluster is registered and the host can."""

import os
import subprocess
import sys

from django.core.management.base import BaseCommand

from clusters import registration
from clusters.models import Cluster
from dashboard import pipeline


def lab_name() -> str:
    """The demo lab's name (WATCHKEEPER_DEMO_LAB, default wkdemo); its prefix is wkl + name."""
    return os.environ.get("WATCHKEEPER_DEMO_LAB", "wkdemo")


class Command(BaseCommand):
    help = "Start the Swarm lab and register it when no cluster exists and the machine can host it."

    def handle(self, *args, **options):
        lab_cluster = Cluster.objects.filter(name="lab", url__contains=f"/wkl{lab_name()}/").first()
        if Cluster.objects.exclude(pk=getattr(lab_cluster, "pk", None)).exists():
            self.stdout.write("Clusters are registered; not starting the lab.")
            return
        if os.environ.get("DOCKER_HOST"):
            self.stdout.write("DOCKER_HOST is set; not starting the lab.")
            return
        from lab.core import host_support  # deferred: a development tool, loaded only here

        reason = host_support()
        if reason:
            self.stdout.write(f"The Swarm lab cannot run here ({reason}); skipping.")
            return
        url = self.lab_up()
        if lab_cluster is not None:
            self.stdout.write(f"The demo lab for cluster 'lab' is up ({url}).")
            return
        cluster = registration.cluster_add(
            name="lab", url=url, environment=Cluster.Environment.PRODUCTION
        )
        outcome = pipeline.cluster_poll(cluster=cluster)
        state = "ok" if outcome and outcome.run.ok else (outcome.run.error if outcome else "busy")
        self.stdout.write(f"Registered the lab as cluster 'lab' ({url}); first poll: {state}")

    def lab_up(self) -> str:
        """Start (or reuse) the detached demo lab and return its DOCKER_HOST."""
        # A separate process: the lab is detached and outlives this command.
        result = subprocess.run(
            [sys.executable, "-m", "lab", "up", "--name", "wkl" + lab_name(), "--reuse", "--demo",
             "--quiet"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        url = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
        if result.returncode != 0 or not url.startswith("unix://"):
            self.stderr.write(f"The lab did not start: {result.stderr.strip()[-500:]}")
            raise SystemExit(1)
        return url
