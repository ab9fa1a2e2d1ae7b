"""The Watchkeeper side of the fault tests, run as `python -m tests.faults.scenario NAME ...`
in its own process against the tests' own PostgreSQL and Redis (DATABASE_URL, REDIS_URL).

It prints `PAUSE <label>` and waits for a line on stdin where the test injects its fault
(stops or restarts a server, or kills this process), and ends with `RESULT <json>`.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

import django

T0 = datetime(2027, 5, 3, 9, 0, tzinfo=UTC)


def pause(label: str) -> None:
    print(f"PAUSE {label}", flush=True)
    sys.stdin.readline()


def result(data: dict) -> None:
    print("RESULT " + json.dumps(data, default=str), flush=True)


def poll_scoring() -> dict:
    """A poll paused while it scores (the test restarts PostgreSQL there), then a failing poll."""
    from clusters.client import PollFailed
    from clusters.models import Cluster, PollRun, PollSnapshot
    from dashboard import pipeline
    from readiness import services as readiness_services
    from readiness.models import Evaluation
    from tests.clusters.conftest import fetcher, load_raw

    cluster = Cluster.objects.create(name="scored", url="tcp://127.0.0.1:9")
    real = readiness_services.evaluation_run

    def paused(**kwargs):
        pause("scoring")
        return real(**kwargs)

    readiness_services.evaluation_run = paused
    first = pipeline.cluster_poll(cluster=cluster, now=T0, fetch=fetcher(load_raw("lab_poll1")))
    readiness_services.evaluation_run = real
    claimed = Cluster.objects.get(pk=cluster.pk).poll_claimed_at

    def unreachable(**kwargs):
        raise PollFailed("refused", "Connection refused by tcp://127.0.0.1:9")

    later = T0 + timedelta(minutes=1)
    second = pipeline.cluster_poll(cluster=cluster, now=later, fetch=unreachable)
    return {
        "first": first.run.error_kind if first else None,
        "claimed_after_first": claimed,
        "second": second.run.error_kind if second else None,
        "runs": list(PollRun.objects.order_by("started_at", "id").values_list("ok", "error_kind")),
        "snapshots": [str(s) for s in PollSnapshot.objects.values_list("taken_at", flat=True)],
        "evaluated": [str(e) for e in Evaluation.objects.values_list("snapshot_at", flat=True)],
    }


def reminders_enqueue(count: str) -> dict:
    from clusters.models import Cluster
    from maintenance.services import reminders

    cluster = Cluster.objects.create(name="mailed", url="tcp://127.0.0.1:9")
    cluster.recipients.create(email="oncall@example.org")
    created = sum(
        reminders.notification_enqueue(
            cluster=cluster,
            kind="critical_finding",
            subject_key=f"finding:{n}",
            title=f"finding {n}",
            body="A critical finding appeared.",
            now=T0,
        )  # fmt: skip
        for n in range(int(count))
    )
    return {"created": created}


def reminders_send(minutes: str, hold: str) -> dict:
    """Send what is due MINUTES after T0; with HOLD=1 pause after the first SMTP acceptance."""
    from maintenance.models import Reminder
    from maintenance.services import outbox

    held = []

    def after_accept(reminder):
        if hold == "1" and not held:
            held.append(reminder.message_id)
            pause(f"accepted {reminder.message_id}")

    try:
        sent = outbox.reminders_send_due(
            now=T0 + timedelta(minutes=float(minutes)), after_accept=after_accept
        ).sent
        error = ""
    except Exception as exc:  # noqa: BLE001 - reported to the test
        sent, error = None, type(exc).__name__
    from django.db import connection

    connection.close()
    statuses = dict(Reminder.objects.values_list("message_id", "status"))
    return {"sent": sent, "error": error, "held": held, "statuses": statuses}


def manager_restart() -> dict:
    """A manager unreachable for 60 s (real refused connections), then back with its workers
    "unknown" for 20 s, polled every 10 s; then an outage of 3 minutes."""
    from clusters import client
    from clusters.models import Cluster
    from dashboard import pipeline
    from tests.clusters.conftest import fetcher, load_raw
    from tests.faults.servers import spare_port

    cluster = Cluster.objects.create(name="restarted", url=f"tcp://127.0.0.1:{spare_port()}")
    cluster.recipients.create(email="oncall@example.org")
    ready = load_raw("lab_poll1")
    ready["events"] = []
    unknown = json.loads(json.dumps(ready))
    for node in unknown["nodes"]:
        if node["Spec"]["Role"] == "worker":
            node["Status"]["State"] = "unknown"

    def poll(second: int, raw: dict | None) -> None:
        fetch = fetcher(raw) if raw is not None else client.fetch  # refused: nothing listens
        pipeline.cluster_poll(cluster=cluster, now=T0 + timedelta(seconds=second), fetch=fetch)

    poll(0, ready)
    baseline = mail_counts(cluster)
    for second in range(10, 70, 10):
        poll(second, None)
    for second in (70, 80):
        poll(second, unknown)
    for second in range(90, 300, 10):
        poll(second, ready)
    short = mail_counts(cluster)
    for second in range(300, 480, 10):  # 3 minutes unreachable
        poll(second, None)
    for second in (480, 490, 500):
        poll(second, ready)
    return {"baseline": baseline, "after_short": short, "after_long": mail_counts(cluster)}


def lab_polls(url: str) -> dict:
    """Poll the live lab at URL on a clock the test drives, one command per stdin line:
    `poll SECONDS` (a poll at T0 + SECONDS; answers `POLLED <json>`), `end` (the result)."""
    from clusters.models import Cluster, Node
    from dashboard import pipeline

    cluster = Cluster.objects.create(name="lab-restarted", url=url)
    cluster.recipients.create(email="oncall@example.org")
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command != "poll":
            break
        outcome = pipeline.cluster_poll(cluster=cluster, now=T0 + timedelta(seconds=int(arg)))
        states = dict(Node.objects.filter(cluster=cluster).values_list("hostname", "state"))
        run = outcome.run if outcome else None
        answer = {"ok": bool(run and run.ok), "error": run.error_kind if run else "claimed"}
        mails = mail_counts(cluster)
        print("POLLED " + json.dumps(dict(answer, states=states, mails=mails)), flush=True)
    return {"mails": mail_counts(cluster)}


def mail_counts(cluster) -> dict:
    """The cluster's notices queued so far, by kind."""
    from maintenance.models import Reminder

    kinds = list(Reminder.objects.filter(cluster=cluster).values_list("kind", flat=True))
    return {kind: kinds.count(kind) for kind in sorted(set(kinds))}


def redis_down() -> dict:
    """Sign in, open the cluster page, ask for a poll and read /healthz (Redis is stopped)."""
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import reverse

    from accounts.services import user_set_role
    from clusters.models import Cluster

    user = get_user_model().objects.create_user(username="otto", password="pw-otto-1234")
    user_set_role(user=user, role="operator")
    Cluster.objects.create(name="cached", url="tcp://127.0.0.1:9")
    browser = Client()
    login = browser.post("/accounts/login/", {"username": "otto", "password": "pw-otto-1234"})
    page = browser.get(reverse("clusters:detail", args=["cached"]))
    fleet = browser.get(reverse("clusters:fleet"))
    poll = browser.post(reverse("clusters:poll_now", args=["cached"]), HTTP_HX_REQUEST="true")
    health = Client().get("/healthz")
    return {
        "login": [login.status_code, login.get("Location", "")],
        "cluster_page": page.status_code,
        "fleet": fleet.status_code,
        "poll_now": [poll.status_code, "queue is unavailable" in poll.text],
        "healthz": [health.status_code, health.text],
    }


if __name__ == "__main__":
    django.setup()
    name, *args = sys.argv[1:]
    result(globals()[name](*args))
