"""The channels page and `manage.py channel`: add (URL never shown back), test message through
a real local receiver, last deliveries, disable, delete; bad input stores nothing."""

import io
import json
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from audit.models import AuditEvent
from maintenance.models import Channel, Reminder
from tests.maintenance.test_channels import SECRET, Receiver, signature_ok

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    """A real local HTTP receiver (see test_channels.Receiver)."""
    server = Receiver()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def add(admin_client, **data):
    form = {"name": "ops", "kind": "webhook", "cluster": "", "url": "", "signing_secret": ""}
    return admin_client.post(reverse("maintenance:channel_add"), {**form, **data})


def test_an_admin_adds_a_webhook_and_its_test_message_arrives_signed(admin_client, receiver):
    response = add(admin_client, url=receiver.url, signing_secret=SECRET)
    assert response.status_code == 302
    channel = Channel.objects.get(name="ops")

    page = admin_client.get(reverse("maintenance:channels")).content.decode()
    assert "ops" in page and receiver.url not in page and SECRET not in page
    assert "127.0.0.1" not in page

    response = admin_client.post(
        reverse("maintenance:channel_test", args=[channel.pk]), follow=True
    )
    assert "Test message delivered to ops" in response.content.decode()
    [(headers, body)] = receiver.received
    assert signature_ok(headers, body, SECRET)
    assert json.loads(body)["kind"] == "channel_test"
    row = Reminder.objects.get(channel=channel)
    assert row.status == "sent" and row.kind == "channel_test"

    page = admin_client.get(reverse("maintenance:channels")).content.decode()
    assert "Channel Test" in page  # the delivery is listed


def test_a_failing_test_message_says_why(admin_client, receiver):
    add(admin_client, url=receiver.url, signing_secret=SECRET)
    channel = Channel.objects.get()
    receiver.fail_with = [500]
    response = admin_client.post(
        reverse("maintenance:channel_test", args=[channel.pk]), follow=True
    )
    text = response.content.decode()
    assert "not delivered" in text and "500" in text
    assert receiver.received == []


@pytest.mark.parametrize(
    "data, message",
    [
        ({"url": "ftp://example.invalid/x"}, "Not a valid http(s) URL"),
        ({"kind": "slack", "url": "https://example.invalid/not-slack"}, "Not a valid slack URL"),
        ({"kind": "carrier-pigeon", "url": "http://127.0.0.1/x"}, "Choose a kind"),
        ({"name": "", "url": "http://127.0.0.1/x"}, "needs a name"),
        ({"cluster": "999999", "url": "http://127.0.0.1/x"}, "Choose a cluster"),
    ],
)
def test_bad_input_re_renders_the_form_and_stores_nothing(admin_client, data, message):
    events = AuditEvent.objects.count()
    response = add(admin_client, **data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Channel.objects.exists()
    assert AuditEvent.objects.count() == events


def test_disable_and_delete_need_the_name_and_are_audited(admin_client):
    add(admin_client, url="http://127.0.0.1:9/hook")
    channel = Channel.objects.get()
    admin_client.post(reverse("maintenance:channel_toggle", args=[channel.pk]))
    channel.refresh_from_db()
    assert channel.enabled is False
    admin_client.post(reverse("maintenance:channel_delete", args=[channel.pk]), {"confirm": "x"})
    assert Channel.objects.filter(pk=channel.pk).exists()
    admin_client.post(reverse("maintenance:channel_delete", args=[channel.pk]), {"confirm": "ops"})
    assert not Channel.objects.exists()
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions[-3:] == ["channel.create", "channel.disable", "channel.delete"]
    for event in AuditEvent.objects.all():
        assert "127.0.0.1" not in json.dumps([event.before, event.after])


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("channel", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_cli_adds_from_a_file_tests_lists_and_shows_deliveries(tmp_path, receiver):
    url_file = tmp_path / "url"
    url_file.write_text(receiver.url + "\n")
    key_file = tmp_path / "key"
    key_file.write_text(SECRET)
    out, _ = run("add", "ops", "--kind", "webhook", "--url-file", str(url_file),
                 "--signing-secret-file", str(key_file))  # fmt: skip
    assert "channel ops added" in out and receiver.url not in out

    out, _ = run("test", "ops")
    assert "delivered" in out
    [(headers, body)] = receiver.received
    assert signature_ok(headers, body, SECRET)

    out, _ = run("list")
    assert "ops" in out and "last sent" in out and receiver.url not in out
    out, _ = run("deliveries", "ops")
    assert "channel_test" in out and "sent" in out
    assert AuditEvent.objects.filter(action="channel.create", via="cli").exists()


def test_the_cli_generates_a_webhook_key_and_prints_it_once(tmp_path):
    out, err = run("add", "ops", "--kind", "webhook", "--url", "http://127.0.0.1:9/hook")
    channel = Channel.objects.get()
    assert channel.secret()["key"] in err and channel.secret()["key"] not in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["add", "x", "--kind", "webhook", "--url", "not a url"], "spaces"),
        (["add", "x", "--kind", "webhook", "--url", "http://127.0.0.1/x", "--cluster", "no"],
         "no cluster named"),
        (["add", "x", "--kind", "webhook", "--url-file", "/nonexistent/url"], "cannot read"),
        (["test", "nope"], "no channel named"),
    ],
)  # fmt: skip
def test_the_cli_refuses_bad_input_with_exit_2_and_stores_nothing(args, message):
    with pytest.raises(CommandError, match=message) as raised:
        run(*args)
    assert raised.value.returncode == 2
    assert not Channel.objects.exists()


def test_a_failed_cli_test_message_exits_1(receiver):
    run("add", "ops", "--kind", "webhook", "--url", receiver.url)
    receiver.fail_with = [500]
    with pytest.raises(CommandError, match="not delivered") as raised:
        run("test", "ops")
    assert raised.value.returncode == 1
