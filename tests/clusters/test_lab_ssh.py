"""ssh:// against a real sshd in a lab node's namespace, in front of that node's dockerd."""

import json
import os
import tempfile
import threading
from io import StringIO

import paramiko
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from clusters import client, registration
from clusters.models import Cluster, Node, PollRun
from lab import Lab, NodeSpec
from lab.sshd import SSHD, ed25519_keypair, start_sshd
from tests.lab.fixtures import in_ci

pytestmark = [pytest.mark.lab, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def ssh_lab(lab_host):
    """A two-node lab reachable from the host, its manager serving ssh://root@ADDR."""
    if not SSHD.exists():
        reason = f"{SSHD} missing: install openssh-server (`make lab-deps` as root)"
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    lab = Lab(
        [
            NodeSpec("wk-ssh-manager", "manager", cpus=1, memory_gib=2),
            NodeSpec("wk-ssh-worker", "worker", cpus=1, memory_gib=1),
        ],
        host_link=True,
    )
    lab.up()
    private, public = ed25519_keypair()
    try:
        server = start_sshd(lab, authorized_keys=[public])
        try:
            yield lab, server, private
        finally:
            server.stop()
    finally:
        lab.down()


@pytest.fixture
def files(tmp_path, ssh_lab):
    _, server, private = ssh_lab
    (tmp_path / "id").write_text(private)
    (tmp_path / "known_hosts").write_text(server.known_hosts)
    (tmp_path / "wrong_id").write_text(ed25519_keypair()[0])
    (tmp_path / "other_host_key").write_text(f"{server.addr} {ed25519_keypair()[1]}\n")
    return tmp_path


def cli(*args):
    out = StringIO()
    call_command("cluster", *args, stdout=out)
    return out.getvalue()


def secret_line(ssh_lab):
    return ssh_lab[2].splitlines()[1]


def test_it_polls_a_swarm_over_ssh_with_the_stored_key_only(ssh_lab, files, caplog):
    caplog.set_level("DEBUG")
    lab, server, _ = ssh_lab
    temp_before = set(os.listdir(tempfile.gettempdir()))
    cli(
        "add", "x", "--url", server.url(), "--ssh-key", str(files / "id"),
        "--ssh-known-hosts", str(files / "known_hosts"),
    )  # fmt: skip
    assert cli("poll", "x").startswith("x: 2 nodes, 0 services")
    assert set(Node.objects.values_list("hostname", "role")) == {
        ("wk-ssh-manager", "manager"),
        ("wk-ssh-worker", "worker"),
    }
    listing = cli("list", "--format", "json")
    assert json.loads(listing)[0]["url"] == server.url()
    secret = secret_line(ssh_lab)
    assert secret not in listing and secret not in caplog.text
    assert "PRIVATE KEY" not in listing + caplog.text
    assert set(os.listdir(tempfile.gettempdir())) == temp_before
    assert not [t for t in threading.enumerate() if isinstance(t, paramiko.Transport)]


def test_it_fails_clearly_with_a_key_the_server_does_not_accept(ssh_lab, files, caplog):
    caplog.set_level("DEBUG")
    _, server, _ = ssh_lab
    cli(
        "add", "x", "--url", server.url(), "--ssh-key", str(files / "wrong_id"),
        "--ssh-known-hosts", str(files / "known_hosts"),
    )  # fmt: skip
    with pytest.raises(CommandError, match="SSH authentication as root .* failed") as caught:
        cli("poll", "x")
    run = PollRun.objects.get()
    assert (run.ok, run.error_kind) == (False, "auth")
    wrong = (files / "wrong_id").read_text().splitlines()[1]
    for text in (str(caught.value), run.error, caplog.text):
        assert wrong not in text and "PRIVATE KEY" not in text


def test_it_refuses_a_host_whose_key_does_not_match_the_stored_one(ssh_lab, files, caplog):
    caplog.set_level("DEBUG")
    _, server, _ = ssh_lab
    cli(
        "add", "x", "--url", server.url(), "--ssh-key", str(files / "id"),
        "--ssh-known-hosts", str(files / "other_host_key"),
    )  # fmt: skip
    with pytest.raises(CommandError, match="host key .* does not match"):
        cli("poll", "x")
    assert PollRun.objects.get().error_kind == "host_key"
    assert secret_line(ssh_lab) not in caplog.text


def test_it_refuses_a_host_missing_from_the_stored_known_hosts(ssh_lab):
    _, server, private = ssh_lab
    elsewhere = f"10.255.255.1 {ed25519_keypair()[1]}\n"
    with pytest.raises(client.PollFailed) as caught:
        client.fetch(
            url=server.url(), credentials={"ssh_key": private, "ssh_known_hosts": elsewhere}
        )
    assert caught.value.kind == "host_key" and "not in the stored known_hosts" in str(caught.value)


def test_it_stores_the_host_key_it_sees_when_asked_to_accept_a_new_one(ssh_lab, files):
    _, server, _ = ssh_lab
    cli(
        "add", "x", "--url", server.url(), "--ssh-key", str(files / "id"),
        "--ssh-accept-new-host-key",
    )  # fmt: skip
    stored = registration.cluster_credentials(Cluster.objects.get())["ssh_known_hosts"]
    assert stored.split() == server.known_hosts.split()
    assert "2 nodes" in cli("poll", "x")


def test_it_says_when_ssh_works_but_docker_does_not_answer_there(ssh_lab):
    lab, _, private = ssh_lab
    private_b, key_public = ed25519_keypair()
    broken = start_sshd(
        lab, authorized_keys=[key_public], port=2222, docker_host="unix:///nonexistent.sock"
    )
    try:
        with pytest.raises(client.PollFailed) as caught:
            client.fetch(
                url=broken.url(),
                credentials={"ssh_key": private_b, "ssh_known_hosts": broken.known_hosts},
                timeout=10,
            )
    finally:
        broken.stop()
    assert caught.value.kind == "remote_docker", caught.value.message
    assert "docker system dial-stdio" in caught.value.message
    assert private not in caught.value.message


def test_it_fails_fast_when_nothing_listens_for_ssh(ssh_lab):
    lab, server, private = ssh_lab
    url = server.url().replace(server.addr, lab.node_addr("wk-ssh-worker"))
    known = server.known_hosts.replace(server.addr, lab.node_addr("wk-ssh-worker"))
    with pytest.raises(client.PollFailed) as caught:
        client.fetch(url=url, credentials={"ssh_key": private, "ssh_known_hosts": known})
    assert caught.value.kind == "refused"
