"""Start the demo Swarm lab for `make run` when no cluster is registered and the host can."""

import os
import subprocess
import sys

from django.core.management.base import BaseCommand

from clusters import services
from clusters.models import Cluster

LAB_NAME = "wkdemo"


class Command(BaseCommand):
    help = "Start the Swarm lab and register it when no cluster exists and the machine can host it."

    def handle(self, *args, **options):
        if Cluster.objects.exists():
            self.stdout.write("Clusters are registered; not starting the lab.")
            return
        if os.environ.get("DOCKER_HOST"):
            self.stdout.write("DOCKER_HOST is set; not starting the lab.")
            return
        from lab.core import host_support

        reason = host_support()
        if reason:
            self.stdout.write(f"The Swarm lab cannot run here ({reason}); skipping.")
            return
        # A separate process: the lab is detached and outlives this command.
        result = subprocess.run(
            [sys.executable, "-m", "lab", "up", "--name", "wkl" + LAB_NAME, "--reuse", "--demo",
             "--quiet"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        url = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
        if result.returncode != 0 or not url.startswith("unix://"):
            self.stderr.write(f"The lab did not start: {result.stderr.strip()[-500:]}")
            raise SystemExit(1)
        cluster = services.cluster_add(
            name="lab", url=url, environment=Cluster.Environment.DEVELOPMENT
        )
        outcome = services.cluster_poll(cluster=cluster)
        state = "ok" if outcome and outcome.run.ok else (outcome.run.error if outcome else "busy")
        self.stdout.write(f"Registered the lab as cluster 'lab' ({url}); first poll: {state}")
