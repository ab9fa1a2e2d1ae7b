"""Channel delivery through the real enqueue + outbox path to a real local HTTP receiver.

The receiver checks the X-Watchkeeper-Signature with its own HMAC computation (not ours)."""

import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.utils import timezone

from maintenance.models import Channel, Reminder
from maintenance.services import channels as channel_services
from maintenance.services import outbox, reminders

T = datetime(2027, 5, 3, 9, 0, tzinfo=UTC)
SECRET = "s3cr3t-signing-key-for-tests"


class Receiver(ThreadingHTTPServer):
    """Records every POST; answers the next codes in FAIL_WITH first, then 200."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.received: list[tuple[dict, bytes]] = []
        self.fail_with: list[int] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            code = self.server.fail_with.pop(0) if self.server.fail_with else 200
            if code == 200:
                self.server.received.append((dict(self.headers), body))
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"ok" if code == 200 else b"boom")

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def webhook(cluster, url):
    return channel_services.channel_create(
        name="ops-hook", kind="webhook", url=url, cluster=cluster, signing_secret=SECRET, now=T
    )


def enqueue_one(cluster, now=T):
    return reminders.notification_enqueue(
        cluster=cluster,
        kind="critical_finding",
        subject_key="finding:1",
        title="[prod] new critical finding",
        body="A critical finding appeared.",
        now=now - timedelta(minutes=1),
    )


def signature_ok(headers: dict, body: bytes, secret: str) -> bool:
    """A receiver's own check: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    parts = dict(item.split("=", 1) for item in headers["X-Watchkeeper-Signature"].split(","))
    mac = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), parts["v1"])


@pytest.mark.django_db
def test_a_webhook_channel_receives_the_reminder_signed(cluster, receiver):
    channel = webhook(cluster, receiver.url)
    assert enqueue_one(cluster) == 1
    row = Reminder.objects.get()
    assert row.channel == channel and row.recipient == ""

    with time_machine.travel(T, tick=False):
        result = outbox.reminders_send_due(now=T)

    assert result.sent == 1
    [(headers, body)] = receiver.received
    assert signature_ok(headers, body, SECRET)
    assert not signature_ok(headers, body, "another secret")
    assert headers["X-Watchkeeper-Signature"].startswith(f"t={int(T.timestamp())},v1=")
    assert headers["X-Watchkeeper-Delivery"] == row.message_id
    payload = json.loads(body)
    assert payload["id"] == row.message_id
    assert payload["cluster"] == "prod" and payload["title"] == "[prod] new critical finding"
    row.refresh_from_db()
    assert row.status == "sent"


@pytest.mark.django_db(transaction=True)
def test_four_concurrent_senders_deliver_a_channel_message_exactly_once(cluster, receiver):
    webhook(cluster, receiver.url)
    enqueue_one(cluster)
    start = threading.Barrier(4)
    results, errors = [], []

    def sender():
        try:
            start.wait(timeout=30)
            results.append(outbox.reminders_send_due(now=T))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(result.sent for result in results) == 1
    assert len(receiver.received) == 1
    assert Reminder.objects.get().status == "sent"


@pytest.mark.django_db
def test_a_receiver_failing_twice_gets_the_message_once_after_the_backoff(cluster, receiver):
    webhook(cluster, receiver.url)
    enqueue_one(cluster)
    receiver.fail_with = [500, 500]

    with time_machine.travel(T, tick=False) as traveller:
        assert outbox.reminders_send_due(now=timezone.now()).retried == 1
        row = Reminder.objects.get()
        assert row.status == "pending" and "HTTP 500" in row.last_error
        assert outbox.reminders_send_due(now=timezone.now()).claimed == 0  # not before backoff

        traveller.move_to(row.next_attempt_at + timedelta(seconds=1))
        assert outbox.reminders_send_due(now=timezone.now()).retried == 1
        row.refresh_from_db()
        assert row.attempts == 2

        traveller.move_to(row.next_attempt_at + timedelta(seconds=1))
        assert outbox.reminders_send_due(now=timezone.now()).sent == 1
        assert outbox.reminders_send_due(now=timezone.now() + timedelta(hours=1)).claimed == 0

    assert len(receiver.received) == 1
    row.refresh_from_db()
    assert row.status == "sent" and row.attempts == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kind,url",
    [
        ("webhook", "ftp://127.0.0.1/hook"),
        ("webhook", "not a url"),
        ("webhook", "http://127.0.0.1/ho\nok"),
        ("webhook", ""),
        ("slack", "https://127.0.0.1/hook"),
        ("carrier-pigeon", "http://127.0.0.1/hook"),
    ],
)
def test_a_bad_channel_url_is_refused_and_nothing_stored(cluster, kind, url):
    with pytest.raises(ValidationError):
        channel_services.channel_create(name="bad", kind=kind, url=url, cluster=cluster, now=T)
    assert Channel.objects.count() == 0


@pytest.mark.django_db
def test_the_channel_url_and_signing_secret_are_stored_encrypted(cluster):
    url = "http://127.0.0.1:9/hook-path-token-abc123"
    channel = webhook(cluster, url)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM maintenance_channel WHERE id = %s", [channel.pk]
        )  # the raw row, every column
        row = " ".join(str(value) for value in cursor.fetchone())
    assert SECRET not in row
    assert "hook-path-token-abc123" not in row and "127.0.0.1:9" not in row
    assert Channel.objects.get().secret() == {"url": url, "key": SECRET}


@pytest.mark.django_db
def test_reminder_retry_puts_a_failed_row_back_to_pending_keeping_its_history(
    cluster, receiver, operator
):
    webhook(cluster, receiver.url)
    enqueue_one(cluster)
    receiver.fail_with = [410]  # permanent
    with time_machine.travel(T, tick=False):
        assert outbox.reminders_send_due(now=T).failed == 1
    row = Reminder.objects.get()
    assert row.status == "failed" and "HTTP 410" in row.last_error

    later = T + timedelta(hours=1)
    retried = outbox.reminder_retry(reminder_id=row.pk, user=operator, now=later)
    row.refresh_from_db()
    assert retried == row
    assert (row.status, row.attempts, row.last_error) == ("pending", 0, "")
    assert row.next_attempt_at == later
    [entry] = row.history
    assert entry["failed_after"] == 1 and "HTTP 410" in entry["error"]
    assert entry["retried_by"] == operator.username
    assert outbox.reminder_retry(reminder_id=row.pk, user=operator, now=later) is None

    with time_machine.travel(later, tick=False):
        assert outbox.reminders_send_due(now=later).sent == 1
    assert len(receiver.received) == 1


@pytest.mark.django_db
def test_the_api_lists_a_channel_reminder_with_its_channel_and_no_recipient(
    client, viewer, cluster, recipients
):
    webhook(cluster, "http://127.0.0.1:9/hook-path-token-abc123")
    assert enqueue_one(cluster) == 3  # two addresses and the channel
    client.force_login(viewer)
    response = client.get("/api/v1/reminders")
    assert response.status_code == 200, response.content
    rows = response.json()
    [row] = [row for row in rows if row["channel"]]
    assert (row["channel"], row["recipient"], row["destination"]) == ("ops-hook", "", "ops-hook")
    emails = sorted((row["recipient"], row["destination"], row["channel"]) for row in rows[:3])
    assert [email for email in emails if email[0]] == [
        ("ops@example.org", "ops@example.org", None),
        ("otto@example.org", "otto@example.org", None),
    ]
    assert "hook-path-token" not in response.content.decode()


class WorkerDied(Exception):
    pass


@pytest.mark.django_db
def test_a_worker_dying_after_acceptance_resends_with_the_same_id_after_the_lease(
    cluster, receiver
):
    webhook(cluster, receiver.url)
    enqueue_one(cluster)

    def die(reminder):
        raise WorkerDied  # between the receiver's 2xx and the `sent` commit

    with time_machine.travel(T, tick=False) as traveller:
        with pytest.raises(WorkerDied):
            outbox.reminders_send_due(now=timezone.now(), after_accept=die)
        row = Reminder.objects.get()
        assert row.status == "sending" and len(receiver.received) == 1

        traveller.move_to(T + outbox.LEASE - timedelta(seconds=1))
        assert outbox.reminders_send_due(now=timezone.now()).claimed == 0  # lease still held
        traveller.move_to(T + outbox.LEASE + timedelta(seconds=1))
        assert outbox.reminders_send_due(now=timezone.now()).sent == 1

    ids = [headers["X-Watchkeeper-Delivery"] for headers, _ in receiver.received]
    assert ids == [row.message_id, row.message_id]  # the one duplicate, deduplicable
    row.refresh_from_db()
    assert row.status == "sent"
