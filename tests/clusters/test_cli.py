"""`manage.py cluster ...`."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from clusters import endpoint, registration
from clusters.models import Cluster, Recipient
from dashboard import pipeline
from tests.clusters.conftest import fetcher, tls_material

PEM_CERT, PEM_KEY = tls_material()


def run(*args):
    out = StringIO()
    call_command("cluster", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def pems(tmp_path):
    (tmp_path / "ca.pem").write_text(PEM_CERT)
    (tmp_path / "cert.pem").write_text(PEM_CERT)
    (tmp_path / "key.pem").write_text(PEM_KEY)
    return tmp_path


@pytest.mark.django_db
def test_it_adds_a_tls_cluster_with_encrypted_material(pems):
    run(
        "add", "prod", "--url", "tcp://manager.example.net:2376", "--environment", "staging",
        "--tls-ca", str(pems / "ca.pem"), "--tls-cert", str(pems / "cert.pem"),
        "--tls-key", str(pems / "key.pem"), "--notify", "ops@example.com",
    )  # fmt: skip
    cluster = Cluster.objects.get(name="prod")
    assert cluster.environment == "staging"
    assert PEM_KEY.splitlines()[1] not in cluster.credentials_encrypted
    assert registration.cluster_credentials(cluster)["key"] == PEM_KEY
    assert list(cluster.recipients.values_list("email", flat=True)) == ["ops@example.com"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "x", "--url", "http://h:2375"], "unix://, tcp:// or ssh://"),
        (["add", "x", "--url", "unix://relative.sock"], "unix:///absolute"),
        (["add", "x", "--url", "tcp://h"], "needs a port"),
        (["add", "x", "--url", "tcp://h:2376"], "needs --tls-ca"),
        (
            [
                "add",
                "x",
                "--url",
                "tcp://h:2376",
                "--tls-ca",
                "/nope",
                "--tls-cert",
                "/nope",
                "--tls-key",
                "/nope",
            ],
            "cannot read /nope",
        ),  # fmt: skip
        (["add", "bad name", "--url", "unix:///x.sock"], "name"),
        (["add", "x", "--url", "unix:///x.sock", "--notify", "not-an-address"], "--notify"),
        (["add", "dup", "--url", "unix:///x.sock"], "already exists"),
        (["add", "x", "--url", "unix:///x\n.sock"], "control characters"),
        (["add", "x", "--url", "ssh://admin@manager\n.example.net"], "control characters"),
    ],
)
def test_it_refuses_bad_input_storing_nothing(args, message):
    Cluster.objects.create(name="dup", url="unix:///y.sock")
    with pytest.raises(CommandError, match=message) as caught:
        run(*args)
    assert caught.value.returncode == 2
    assert list(Cluster.objects.values_list("name", flat=True)) == ["dup"]
    assert Recipient.objects.count() == 0


@pytest.mark.django_db
def test_it_refuses_a_key_that_is_not_pem(pems):
    (pems / "key.pem").write_text("garbage")
    with pytest.raises(CommandError, match="not a PEM private key") as caught:
        run(
            "add", "x", "--url", "tcp://h:2376", "--tls-ca", str(pems / "ca.pem"),
            "--tls-cert", str(pems / "cert.pem"), "--tls-key", str(pems / "key.pem"),
        )  # fmt: skip
    assert caught.value.returncode == 2 and not Cluster.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("option", "text", "message"),
    [
        ("key", tls_material(b"passphrase")[1], "is encrypted: give the key without a passphrase"),
        ("key", PEM_KEY.replace("\n", "\n!", 2), "is not a readable PEM private key"),
        (
            "key",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\n",
            "is not a readable PEM private key",
        ),
        (
            "cert",
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            "is not a readable PEM certificate",
        ),
        ("ca", PEM_CERT.replace("\n", "\n!", 2), "is not a readable PEM certificate"),
    ],
    ids=["encrypted-key", "damaged-key", "openssh-key", "fake-cert", "damaged-ca"],
)
def test_it_refuses_tls_files_a_poll_could_not_use(pems, option, text, message):
    (pems / f"{option}.pem").write_text(text)
    with pytest.raises(CommandError, match=f"--tls-{option}: .*{message}") as caught:
        run(
            "add", "x", "--url", "tcp://h:2376", "--tls-ca", str(pems / "ca.pem"),
            "--tls-cert", str(pems / "cert.pem"), "--tls-key", str(pems / "key.pem"),
        )  # fmt: skip
    assert caught.value.returncode == 2 and not Cluster.objects.exists()
    assert text.splitlines()[1] not in str(caught.value)


@pytest.mark.django_db
def test_it_adds_and_removes_recipients(cluster):
    run("notify", "lab", "--add", "a@example.com")
    assert list(cluster.recipients.values_list("email", flat=True)) == ["a@example.com"]
    run("notify", "lab", "--remove", "a@example.com")
    assert not cluster.recipients.exists()
    with pytest.raises(CommandError) as caught:
        run("notify", "lab", "--remove", "a@example.com")
    assert caught.value.returncode == 2


@pytest.mark.django_db
def test_it_lists_clusters_as_json_without_credentials(cluster, poll1, pems):
    pipeline.cluster_poll(cluster=cluster, fetch=fetcher(poll1))
    Cluster.objects.create(name="ssh", url="ssh://deploy@manager.example.net")
    entries = json.loads(run("list", "--format", "json"))
    assert [e["name"] for e in entries] == ["lab", "ssh"]
    lab = entries[0]
    assert set(lab) == {
        "name", "team", "environment", "url", "nodes", "services", "last_poll", "score", "grade"
    }  # fmt: skip
    assert (lab["nodes"], lab["services"], lab["last_poll"]["ok"]) == (3, 5, True)
    assert lab["last_poll"]["error"] is None
    assert isinstance(lab["score"], int) and lab["grade"] in {"A", "B", "C", "D", "F"}
    assert (entries[1]["score"], entries[1]["grade"]) == (None, None)
    assert entries[1]["url"] == "ssh://deploy@manager.example.net"
    assert entries[1]["last_poll"] == {"at": None, "ok": None, "error": None}
    assert "lab" in run("list")


@pytest.mark.django_db
def test_it_polls_and_prints_a_summary(cluster, poll1, monkeypatch):
    monkeypatch.setattr("clusters.client.fetch", fetcher(poll1))
    assert "lab: 3 nodes, 5 services, 5 running tasks" in run("poll", "lab")


@pytest.mark.django_db
def test_it_exits_non_zero_when_the_poll_fails(cluster):
    with pytest.raises(CommandError, match="does not exist.*last good snapshot is kept"):
        run("poll", "lab")


@pytest.mark.django_db
def test_it_rotates_keys(cluster, settings):
    from cryptography.fernet import Fernet

    cluster.set_credentials('{"ca": "x"}')
    cluster.save()
    old = cluster.credentials_encrypted
    settings.WATCHKEEPER_ENCRYPTION_KEYS = [
        Fernet.generate_key().decode(),
        *settings.WATCHKEEPER_ENCRYPTION_KEYS,
    ]
    assert "1 cluster" in run("rotate-keys")
    cluster.refresh_from_db()
    assert cluster.credentials_encrypted != old
    settings.WATCHKEEPER_ENCRYPTION_KEYS = settings.WATCHKEEPER_ENCRYPTION_KEYS[:1]
    assert cluster.get_credentials() == '{"ca": "x"}'


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["notify", "lab", "--add", "not-an-address"], "--add: 'not-an-address' is not an email"),
        (["notify", "nope", "--add", "a@example.com"], "no cluster named 'nope'"),
        (["poll", "nope"], "no cluster named 'nope'"),
    ],
)
def test_it_refuses_a_bad_address_or_an_unknown_cluster_with_exit_2(cluster, args, message):
    with pytest.raises(CommandError, match=message) as caught:
        run(*args)
    assert caught.value.returncode == 2
    assert not Recipient.objects.exists() and not cluster.poll_runs.exists()


@pytest.mark.django_db
def test_it_says_when_an_address_is_already_there(cluster):
    run("notify", "lab", "--add", "a@example.com")
    assert run("notify", "lab", "--add", "a@example.com") == (
        "added a@example.com for lab (already there)\n"
    )
    assert cluster.recipients.count() == 1


@pytest.mark.django_db
def test_it_lists_a_failed_poll_with_its_error_and_the_last_good_score(cluster, poll1):
    from datetime import UTC, datetime

    from clusters.client import PollFailed

    at = datetime(2026, 11, 22, 3, 30, 15, tzinfo=UTC)
    pipeline.cluster_poll(cluster=cluster, fetch=fetcher(poll1))
    good = json.loads(run("list", "--format", "json"))[0]

    def refused(**kwargs):
        raise PollFailed("refused", "Connection refused by unix:///run/lab.sock")

    pipeline.cluster_poll(cluster=cluster, now=at, fetch=refused)
    entry = json.loads(run("list", "--format", "json"))[0]
    assert entry["last_poll"] == {
        "at": "2026-11-22T03:30:15Z",
        "ok": False,
        "error": "Connection refused by unix:///run/lab.sock",
    }
    assert (entry["score"], entry["grade"], entry["nodes"]) == (
        good["score"],
        good["grade"],
        good["nodes"],
    )
    assert "last poll FAILED" in run("list")


@pytest.mark.django_db
def test_it_says_when_a_poll_may_have_missed_events(cluster, poll1, monkeypatch):
    poll1["events"] = poll1["events"] * 300
    monkeypatch.setattr("clusters.client.fetch", fetcher(poll1))
    assert "events may be missing (buffer overrun)" in run("poll", "lab")
    assert cluster.poll_runs.get().events_truncated


@pytest.mark.django_db
def test_it_exits_non_zero_when_another_poll_holds_the_cluster(cluster, poll1, monkeypatch):
    from django.utils import timezone

    Cluster.objects.filter(pk=cluster.pk).update(poll_claimed_at=timezone.now())
    monkeypatch.setattr("clusters.client.fetch", fetcher(poll1))
    with pytest.raises(CommandError, match="being polled right now") as caught:
        run("poll", "lab")
    assert caught.value.returncode != 0 and not cluster.poll_runs.exists()


def take_the_name_meanwhile(monkeypatch):
    """Another request saves a cluster of that name once our last check has passed."""
    import threading

    from django.db import connection

    checked = registration._name_free

    def taken_meanwhile(name, **kwargs):
        checked(name, **kwargs)
        if kwargs.get("lock"):

            def other():
                try:
                    Cluster.objects.create(name=name, url="unix:///other.sock")
                finally:
                    connection.close()

            thread = threading.Thread(target=other)
            thread.start()
            thread.join(10)

    monkeypatch.setattr(registration, "_name_free", taken_meanwhile)


@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_name_another_add_took_meanwhile_with_exit_2(monkeypatch):
    take_the_name_meanwhile(monkeypatch)
    with pytest.raises(CommandError, match="a cluster named 'x' already exists") as caught:
        run("add", "x", "--url", "unix:///x.sock", "--notify", "a@example.com")
    assert caught.value.returncode == 2
    assert list(Cluster.objects.values_list("url", flat=True)) == ["unix:///other.sock"]
    assert not Recipient.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_refuses_a_rename_to_a_name_taken_meanwhile(monkeypatch):
    lab = Cluster.objects.create(name="lab", url="unix:///lab.sock")
    take_the_name_meanwhile(monkeypatch)
    with pytest.raises(endpoint.ClusterInputError, match="a cluster named 'x' already exists"):
        registration.cluster_update(
            cluster=lab, name="x", url=lab.url, environment=lab.environment, poll_interval=60,
            enabled=True, drain_assist=False, dns_server="", ingress_addresses="", notify=[],
            notify_users=[],
        )  # fmt: skip
    assert sorted(Cluster.objects.values_list("name", "url")) == [
        ("lab", "unix:///lab.sock"),
        ("x", "unix:///other.sock"),
    ]
