"""The cluster settings pages: add, edit, test connection, calendar token, delete (admins)."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from clusters import client as docker_client
from clusters import registration
from clusters.models import Cluster, Recipient
from lab.sshd import ed25519_keypair
from readiness.models import ClusterPolicy
from tests.clusters.conftest import tls_material
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

MARKER = "MARKER-7f3a9c"
PEM_CA = tls_material()[0]
PEM_CERT, PEM_KEY = tls_material()
NEW_KEY = tls_material()[1]
# what must never come back: the marker and every full base64 line of the uploaded files
SECRETS = [MARKER] + [
    line
    for pem in (PEM_CA, PEM_CERT, PEM_KEY, NEW_KEY)
    for line in pem.splitlines()
    if len(line) == 64 and not line.startswith("-----")
]
MISSING = "/nonexistent/wk-settings/docker.sock"
HOSTILE = "<script>alert(1)</script>"
NEW = reverse("clusters:new")


def settings_url(name: str) -> str:
    return reverse("clusters:settings", args=[name])


def upload(text: str, name: str = "file.pem") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode())


def form(**changes) -> dict:
    data = {
        "name": "prod",
        "environment": "staging",
        "url": "unix:///run/prod.sock",
        "poll_interval": "120",
        "enabled": "on",
        "dns_server": "",
        "ingress_addresses": "",
        "recipients": "",
        "policy": "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture(autouse=True)
def no_secret_anywhere(client, caplog):
    """Every response of every test here, and every log line, is free of uploaded material."""
    caplog.set_level("DEBUG")
    bodies = []
    request = client.request

    def recording(**kwargs):
        response = request(**kwargs)
        bodies.append(response.serialize())
        return response

    client.request = recording
    yield bodies
    for body in bodies:
        assert not [secret for secret in SECRETS if secret.encode() in body]
    assert not [secret for secret in SECRETS if secret in caplog.text]


@pytest.fixture
def admin(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def tls_cluster(db):
    return registration.cluster_add(
        name="edge",
        url="tcp://127.0.0.1:1",
        tls={"ca": PEM_CA, "cert": PEM_CERT, "key": PEM_KEY},
        notify=["ops@example.com"],
    )


def snapshot_of(cluster: Cluster) -> dict:
    """Everything the settings page can change, as stored."""
    cluster = Cluster.objects.get(pk=cluster.pk)
    return {
        "fields": [getattr(cluster, f) for f in registration.SETTINGS_FIELDS],
        "recipients": sorted(cluster.recipients.values_list("email", "user_id")),
        "policy": list(ClusterPolicy.objects.filter(cluster=cluster).values_list("data")),
    }


# --- roles ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_it_refuses_viewers_and_operators_on_every_settings_url(
    client, tls_cluster, role, django_user_model
):
    user = make_user(django_user_model, role, role)
    client.force_login(user)
    before = snapshot_of(tls_cluster)
    token = tls_cluster.calendar_token
    for url in (NEW, settings_url("edge")):
        assert client.get(url).status_code == 403, url
    posts = {
        NEW: form(name="other"),
        settings_url("edge"): form(name="edge", url="unix:///x.sock"),
        reverse("clusters:calendar_token_rotate", args=["edge"]): {},
        reverse("clusters:delete", args=["edge"]): {"confirm": "edge"},
    }
    for url, data in posts.items():
        assert client.post(url, data).status_code == 403, url
        assert client.post(url, {**data, "test_connection": "1"}).status_code == 403, url
    assert snapshot_of(tls_cluster) == before
    assert Cluster.objects.get().calendar_token == token
    assert "/clusters/new/" not in client.get(reverse("clusters:fleet")).text
    assert "/settings/" not in client.get(reverse("clusters:detail", args=["edge"])).text


def test_admins_see_the_links(admin, tls_cluster):
    assert f'href="{NEW}"' in admin.get(reverse("clusters:fleet")).text
    detail = admin.get(reverse("clusters:detail", args=["edge"])).text
    assert f'href="{settings_url("edge")}"' in detail


# --- adding -------------------------------------------------------------------------------


def test_it_adds_a_cluster_with_recipients_users_and_a_policy(admin, django_user_model):
    alice = make_user(django_user_model, "alice", "viewer")  # recipients see the cluster
    alice.email = "alice@example.com"
    alice.save()
    page = admin.get(NEW)
    assert page.status_code == 200 and "alice@example.com" in page.text
    policy = {"reservation_max_percent": 70, "backup_interval_days": 60}
    response = admin.post(
        NEW,
        form(
            drain_assist="on",
            dns_server="10.0.0.53:5353",
            ingress_addresses="10.0.0.1, 10.0.0.2",
            recipients="ops@example.com\noncall@example.com\n",
            recipient_users=[alice.pk],
            policy=json.dumps(policy),
        ),
    )
    assert response.status_code == 302 and response["Location"] == reverse("clusters:fleet")
    cluster = Cluster.objects.get(name="prod")
    assert (cluster.environment, cluster.url, cluster.poll_interval) == (
        "staging",
        "unix:///run/prod.sock",
        120,
    )
    assert (cluster.enabled, cluster.drain_assist, cluster.dns_server) == (
        True,
        True,
        "10.0.0.53:5353",
    )
    assert cluster.ingress_addresses == "10.0.0.1, 10.0.0.2"
    assert not cluster.has_credentials
    assert sorted(cluster.recipients.values_list("email", "user_id")) == [
        ("", alice.pk),
        ("oncall@example.com", None),
        ("ops@example.com", None),
    ]
    stored = ClusterPolicy.objects.get(cluster=cluster).data
    assert (stored["reservation_max_percent"], stored["backup_interval_days"]) == (70, 60)
    fleet = admin.get(reverse("clusters:fleet")).text
    assert 'data-cluster="prod"' in fleet and "Added prod" in fleet


def test_it_adds_a_tls_cluster_with_the_uploads_encrypted(admin):
    response = admin.post(
        NEW,
        form(
            url="tcp://manager.example.net:2376",
            tls_ca=upload(PEM_CA),
            tls_cert=upload(PEM_CERT),
            tls_key=upload(PEM_KEY),
        ),
    )
    assert response.status_code == 302
    cluster = Cluster.objects.get(name="prod")
    assert not [secret for secret in SECRETS if secret in cluster.credentials_encrypted]
    assert registration.cluster_credentials(cluster) == {
        "ca": PEM_CA,
        "cert": PEM_CERT,
        "key": PEM_KEY,
    }
    page = admin.get(settings_url("prod")).text
    assert page.count("Stored: yes. Leave empty to keep it") == 3
    assert page.count("Stored: no.") == 2  # the SSH key and known_hosts


def test_it_adds_an_ssh_cluster_with_the_key_and_known_hosts(admin):
    private, _ = ed25519_keypair()
    _, host_public = ed25519_keypair()
    known_hosts = f"manager.example.net {host_public}\n"
    response = admin.post(
        NEW,
        form(
            url="ssh://deploy@manager.example.net",
            ssh_key=upload(private, "id_ed25519"),
            ssh_known_hosts=upload(known_hosts, "known_hosts"),
        ),
    )
    assert response.status_code == 302
    cluster = Cluster.objects.get(name="prod")
    assert registration.cluster_credentials(cluster) == {
        "ssh_key": private,
        "ssh_known_hosts": known_hosts,
    }
    assert private.splitlines()[1] not in admin.get(settings_url("prod")).text


BAD_INPUTS = [
    ({"url": "http://manager:2375"}, "The URL must start with unix://, tcp:// or ssh://"),
    ({"url": "unix://relative.sock"}, "unix:///absolute/path"),
    ({"url": "tcp://manager:2376"}, "A tcp:// URL needs the CA certificate"),
    (
        {"url": "tcp://manager:2376", "tls_ca": PEM_CA, "tls_cert": PEM_CERT,
         "tls_key": "not a key " + MARKER},
        "The client key is not a PEM private key",
    ),
    (
        {"url": "tcp://manager:2376", "tls_ca": PEM_CA.replace("\n", "\nMIIB", 1),
         "tls_cert": PEM_CERT, "tls_key": PEM_KEY},
        "The CA certificate is not a readable PEM certificate",
    ),
    (
        {"url": "tcp://manager:2376", "tls_ca": PEM_CA, "tls_cert": PEM_CERT,
         "tls_key": tls_material(b"passphrase")[1]},
        "The client key is encrypted: give the key without a passphrase",
    ),
    ({"tls_ca": PEM_CA}, "TLS files only go with a tcp:// URL"),
    ({"url": "ssh://root@manager.example.net"}, "An ssh:// URL needs the SSH private key"),
    (
        {"url": "ssh://root@manager.example.net", "ssh_key": PEM_KEY,
         "ssh_known_hosts": "manager.example.net ssh-ed25519 AAAA"},
        "The SSH private key is not a usable SSH private key",
    ),
    ({"name": "bad name"}, "Use letters, digits, dot, dash and underscore"),
    ({"name": "dup"}, "A cluster named &#x27;dup&#x27; already exists"),
    ({"name": "new"}, "is reserved"),
    ({"name": ""}, "This field is required"),
    ({"poll_interval": "2"}, "greater than or equal to 5"),
    ({"poll_interval": "often"}, "Enter a whole number"),
    ({"environment": "moon"}, "Select a valid choice"),
    ({"recipients": "ops@example.com\n" + HOSTILE}, "is not an email address"),
    ({"dns_server": "dns.example.net"}, "The DNS server is an IP address"),
    ({"ingress_addresses": "10.0.0.1, lb.example.net"}, "&#x27;lb.example.net&#x27; is not one"),
    ({"policy": "{not json"}, "This is not valid JSON"),
    ({"policy": "[1, 2]"}, "The policy is a JSON object"),
    (
        {"policy": '{"reservation_max_percent": 5}'},
        "The readiness policy is invalid: reservation_max_percent: must be a whole number "
        "between 10 and 100",
    ),
    ({"policy": '{"no_such_setting": 1}'}, "no_such_setting: unknown setting"),
]  # fmt: skip
FILE_FIELDS = ("tls_ca", "tls_cert", "tls_key", "ssh_key", "ssh_known_hosts")


@pytest.mark.parametrize(("changes", "message"), BAD_INPUTS)
def test_it_refuses_bad_input_with_400_storing_nothing_and_keeping_the_input(
    admin, changes, message
):
    Cluster.objects.create(name="dup", url="unix:///dup.sock")
    files = {k: upload(v) for k, v in changes.items() if k in FILE_FIELDS}
    fields = {k: v for k, v in changes.items() if k not in FILE_FIELDS}
    data = form(**{"ingress_addresses": "10.9.8.7", "recipients": "keep@example.com", **fields})
    response = admin.post(NEW, {**data, **files})
    assert response.status_code == 400
    page = response.text
    assert message in page
    assert "Nothing was saved" in page
    assert ("Uploaded files are not kept" in page) == bool(files)
    assert list(Cluster.objects.values_list("name", flat=True)) == ["dup"]
    assert not Recipient.objects.exists() and not ClusterPolicy.objects.exists()
    for key in ("name", "url", "ingress_addresses", "dns_server"):
        if data[key]:
            assert f'name="{key}" value="{data[key]}"' in page.replace("&#x27;", "'"), key
    assert data["recipients"].split("\n")[0] in page
    if "policy" in changes:
        assert changes["policy"].replace('"', "&quot;") in page
    assert HOSTILE not in page


# --- editing ------------------------------------------------------------------------------


def test_the_edit_page_shows_what_is_stored_never_the_material(admin, tls_cluster):
    page = admin.get(settings_url("edge"))
    assert page.status_code == 200
    assert 'value="tcp://127.0.0.1:1"' in page.text and "ops@example.com" in page.text
    assert page.text.count("Stored: yes") == 3
    assert '"reservation_max_percent": 80' in page.text.replace("&quot;", '"')


def test_it_keeps_the_stored_tls_files_when_none_is_uploaded(admin, tls_cluster):
    before = Cluster.objects.get(pk=tls_cluster.pk).credentials_encrypted
    response = admin.post(
        settings_url("edge"),
        form(
            name="edge", url="tcp://127.0.0.1:1", poll_interval="300", recipients="ops@example.com"
        ),
    )
    assert response.status_code == 302 and response["Location"] == settings_url("edge")
    cluster = Cluster.objects.get(pk=tls_cluster.pk)
    assert cluster.poll_interval == 300 and cluster.environment == "staging"
    assert cluster.credentials_encrypted == before


def test_it_replaces_one_tls_file_and_keeps_the_others(admin, tls_cluster):
    response = admin.post(
        settings_url("edge"),
        form(name="edge", url="tcp://127.0.0.1:1", tls_key=upload(NEW_KEY)),
    )
    assert response.status_code == 302
    credentials = registration.cluster_credentials(Cluster.objects.get(pk=tls_cluster.pk))
    assert credentials == {"ca": PEM_CA, "cert": PEM_CERT, "key": NEW_KEY}


def test_it_refuses_a_bad_replacement_keeping_the_stored_files(admin, tls_cluster):
    before = snapshot_of(tls_cluster)
    response = admin.post(
        settings_url("edge"),
        form(name="edge", url="tcp://127.0.0.1:1", poll_interval="300", tls_ca=upload("junk")),
    )
    assert (
        response.status_code == 400
        and "The CA certificate is not a PEM certificate" in response.text
    )
    assert 'name="poll_interval" value="300"' in response.text
    assert snapshot_of(tls_cluster) == before


def test_changing_the_url_to_a_socket_forgets_the_tls_files(admin, tls_cluster):
    response = admin.post(settings_url("edge"), form(name="edge", url="unix:///run/edge.sock"))
    assert response.status_code == 302
    assert not Cluster.objects.get(pk=tls_cluster.pk).has_credentials


def test_it_renames_and_the_settings_move_with_the_name(admin, tls_cluster):
    response = admin.post(settings_url("edge"), form(name="edge2", url="tcp://127.0.0.1:1"))
    assert response["Location"] == settings_url("edge2")
    assert admin.get(settings_url("edge2")).status_code == 200
    assert admin.get(settings_url("edge")).status_code == 404


def test_it_sets_the_recipients_to_exactly_what_is_given(admin, tls_cluster, django_user_model):
    bob = make_user(django_user_model, "bob", "viewer")
    carol = make_user(django_user_model, "carol", "viewer")
    for user in (bob, carol):
        user.email = f"{user.username}@example.com"
        user.save()
    Recipient.objects.create(cluster=tls_cluster, email="old@example.com")
    Recipient.objects.create(cluster=tls_cluster, user=bob)
    page = admin.get(settings_url("edge")).text
    assert f'value="{bob.pk}" id="id_recipient_users_0" checked' in page
    response = admin.post(
        settings_url("edge"),
        form(
            name="edge",
            url="tcp://127.0.0.1:1",
            recipients="ops@example.com\nnew@example.com",
            recipient_users=[carol.pk],
        ),
    )
    assert response.status_code == 302
    assert sorted(tls_cluster.recipients.values_list("email", "user_id")) == [
        ("", carol.pk),
        ("new@example.com", None),
        ("ops@example.com", None),
    ]


def test_it_saves_a_policy_change_and_refuses_an_invalid_one_storing_nothing(admin, tls_cluster):
    current = json.loads(
        admin.get(settings_url("edge"))
        .text.split('name="policy"')[1]
        .split(">", 1)[1]
        .split("</textarea>")[0]
        .replace("&quot;", '"')
    )
    assert current["window_max_minutes"] == 90
    unchanged = form(name="edge", url="tcp://127.0.0.1:1", policy=json.dumps(current))
    assert admin.post(settings_url("edge"), unchanged).status_code == 302
    assert not ClusterPolicy.objects.exists()  # unchanged: nothing written for readiness

    changed = dict(current, window_min_minutes=30)
    response = admin.post(
        settings_url("edge"), form(name="edge", url="tcp://127.0.0.1:1", policy=json.dumps(changed))
    )
    assert response.status_code == 302
    assert ClusterPolicy.objects.get(cluster=tls_cluster).data["window_min_minutes"] == 30

    before = snapshot_of(tls_cluster)
    invalid = dict(changed, window_min_minutes=120, window_max_minutes=60)
    response = admin.post(
        settings_url("edge"),
        form(name="edge", url="tcp://127.0.0.1:1", poll_interval="600",
             policy=json.dumps(invalid)),
    )  # fmt: skip
    assert response.status_code == 400
    assert "window_max_minutes: must not be below window_min_minutes" in response.text
    assert 'name="poll_interval" value="600"' in response.text
    assert snapshot_of(tls_cluster) == before  # the interval was not saved either


# --- test connection ----------------------------------------------------------------------


def test_the_connection_test_reports_the_pollers_message_and_saves_nothing(admin):
    expected = "The socket /nonexistent/wk-settings/docker.sock does not exist"
    data = form(url=f"unix://{MISSING}", name="")  # a name is not needed to test
    response = admin.post(NEW, {**data, "test_connection": "1"})
    assert response.status_code == 200
    assert expected in response.text and "Nothing was saved" in response.text
    assert f'value="unix://{MISSING}"' in response.text  # the page keeps the input
    response = admin.post(NEW, {**data, "test_connection": "1"}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and response.text.lstrip().startswith("<div")
    assert expected in response.text and "<html" not in response.text
    assert "HX-Request" in response["Vary"]
    assert not Cluster.objects.exists()


def test_the_connection_test_lists_bad_connection_input(admin):
    data = form(url="http://manager:2375", test_connection="1")
    response = admin.post(NEW, data)
    assert response.status_code == 400
    assert "The URL must start with unix://" in response.text
    response = admin.post(NEW, data, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "The URL must start with unix://" in response.text
    assert not Cluster.objects.exists()


def test_the_connection_test_of_a_stored_cluster_uses_its_stored_files(admin, tls_cluster):
    before = snapshot_of(tls_cluster)
    with pytest.raises(docker_client.PollFailed) as poller:
        docker_client.fetch(
            url=tls_cluster.url, credentials=registration.cluster_credentials(tls_cluster)
        )
    data = form(name="edge", url="tcp://127.0.0.1:1", poll_interval="999", test_connection="1")
    response = admin.post(settings_url("edge"), data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert poller.value.message.replace("'", "&#x27;") in response.text
    assert "needs the CA certificate" not in response.text
    assert snapshot_of(tls_cluster) == before


# --- calendar token -----------------------------------------------------------------------


def test_rotating_the_calendar_token_retires_the_old_feed_url(admin, client, tls_cluster):
    old = reverse("maintenance:calendar", args=[tls_cluster.calendar_token])
    assert old in admin.get(settings_url("edge")).text
    assert client.get(old).status_code == 200
    response = admin.post(reverse("clusters:calendar_token_rotate", args=["edge"]))
    assert response.status_code == 302
    token = Cluster.objects.get(pk=tls_cluster.pk).calendar_token
    assert token != tls_cluster.calendar_token
    new = reverse("maintenance:calendar", args=[token])
    page = admin.get(settings_url("edge")).text
    assert new in page and old not in page and "the old one no longer works" in page
    client.logout()
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200


# --- delete -------------------------------------------------------------------------------


def test_deleting_needs_the_name_typed(admin, tls_cluster):
    url = reverse("clusters:delete", args=["edge"])
    response = admin.post(url, {"confirm": "edg"})
    assert response.status_code == 400
    assert "Type the cluster&#x27;s name, edge, to confirm" in response.text
    assert 'name="confirm" value="edg"' in response.text
    assert Cluster.objects.filter(pk=tls_cluster.pk).exists()
    response = admin.post(url, {"confirm": "edge"})
    assert response.status_code == 302 and response["Location"] == reverse("clusters:fleet")
    assert not Cluster.objects.exists() and not Recipient.objects.exists()


@pytest.mark.lab
def test_the_connection_test_reports_the_lab_swarm_and_saves_nothing(admin, swarm_lab):
    api_version = swarm_lab.client().version()["ApiVersion"]
    data = form(url=swarm_lab.docker_host, test_connection="1")
    response = admin.post(NEW, data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    nodes = len(swarm_lab.hostnames)
    assert nodes == 3
    assert (
        f"Connected: swarm of {nodes} nodes, API version {api_version}, manager wk-manager-1"
        in response.text
    )
    assert not Cluster.objects.exists()


def test_the_django_admin_only_lists_clusters_and_links_to_the_settings_page(admin, tls_cluster):
    """One validated way to change a cluster: the admin site cannot add, change or delete."""
    before = snapshot_of(tls_cluster)
    listing = admin.get("/admin/clusters/cluster/")
    assert listing.status_code == 200
    assert f'href="{settings_url("edge")}"' in listing.text
    assert admin.get("/admin/clusters/cluster/add/").status_code == 403
    change = f"/admin/clusters/cluster/{tls_cluster.pk}/change/"
    assert admin.get(change).status_code == 200  # shown read-only
    response = admin.post(change, {"name": "new", "url": "tcp://bad url", "poll_interval": 1})
    assert response.status_code == 403
    assert admin.post(f"/admin/clusters/cluster/{tls_cluster.pk}/delete/").status_code == 403
    assert snapshot_of(tls_cluster) == before
    assert PEM_KEY.splitlines()[1] not in admin.get(change).text


@pytest.mark.parametrize(
    "url", ["unix:///run/ed\nge.sock", "ssh://admin@edge\n.example.net", "ssh://admin@ed\tge"]
)
def test_it_refuses_a_url_with_a_control_character_and_keeps_the_old_one(admin, tls_cluster, url):
    before = snapshot_of(tls_cluster)
    response = admin.post(settings_url("edge"), form(name="edge", url=url))
    assert response.status_code == 400 and "control characters" in response.text
    assert snapshot_of(tls_cluster) == before
