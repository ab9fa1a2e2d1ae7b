"""`cluster add --ssh-key/--ssh-known-hosts` validation and the SSH material parsers."""

from io import StringIO

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import call_command
from django.core.management.base import CommandError

from clusters import client, registration, sshconn
from clusters.models import Cluster
from lab.sshd import ed25519_keypair

URL = "ssh://root@manager.example.net"


def run(*args):
    out = StringIO()
    call_command("cluster", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def ssh_files(tmp_path):
    private, _ = ed25519_keypair()
    _, host_public = ed25519_keypair()
    (tmp_path / "id").write_text(private)
    (tmp_path / "known_hosts").write_text(f"manager.example.net {host_public}\n")
    return tmp_path


@pytest.mark.django_db
def test_it_adds_an_ssh_cluster_with_the_key_and_known_hosts_encrypted(ssh_files):
    private = (ssh_files / "id").read_text()
    out = run(
        "add", "prod", "--url", URL, "--ssh-key", str(ssh_files / "id"),
        "--ssh-known-hosts", str(ssh_files / "known_hosts"),
    )  # fmt: skip
    assert out == f"added prod ({URL})\n"
    cluster = Cluster.objects.get(name="prod")
    body = private.splitlines()[1]
    assert body not in cluster.credentials_encrypted
    assert registration.cluster_credentials(cluster) == {
        "ssh_key": private,
        "ssh_known_hosts": (ssh_files / "known_hosts").read_text(),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "needs --ssh-key"),
        (["--ssh-key", "{d}/id"], "needs --ssh-known-hosts"),
        (["--ssh-key", "{d}/nope", "--ssh-known-hosts", "{d}/known_hosts"], "cannot read"),
        (["--ssh-key", "{d}/known_hosts", "--ssh-known-hosts", "{d}/known_hosts"], "not an SSH"),
        (["--ssh-key", "{d}/id", "--ssh-known-hosts", "{d}/id"], "not a known_hosts entry"),
        (["--ssh-key", "{d}/id", "--ssh-known-hosts", "{d}/other_host"], "no key for manager"),
        (["--ssh-key", "{d}/id", "--ssh-known-hosts", "{d}/empty"], "holds no host key"),
        (
            ["--ssh-key", "{d}/id", "--ssh-known-hosts", "{d}/known_hosts",
             "--ssh-accept-new-host-key"],
            "not both",
        ),
        (["--ssh-key", "{d}/encrypted", "--ssh-known-hosts", "{d}/known_hosts"], "passphrase"),
        (["--ssh-key", "{d}/id", "--ssh-known-hosts", "{d}/known_hosts", "--url2"], "only go"),
    ],
)  # fmt: skip
def test_it_refuses_bad_ssh_material_with_exit_2_storing_nothing(ssh_files, extra, message, caplog):
    caplog.set_level("DEBUG")
    d = ssh_files
    (d / "other_host").write_text((d / "known_hosts").read_text().replace("manager.", "other."))
    (d / "empty").write_text("# nothing\n\n")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (d / "encrypted").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.BestAvailableEncryption(b"pass"),
        )
    )
    url = URL
    if "--url2" in extra:
        extra, url = extra[:-1], "tcp://manager.example.net:2376"
    args = ["add", "x", "--url", url, *(a.format(d=d) for a in extra)]
    with pytest.raises(CommandError, match=message) as caught:
        run(*args)
    assert caught.value.returncode == 2 and not Cluster.objects.exists()
    assert "PRIVATE KEY" not in str(caught.value)
    secret = (d / "id").read_text().splitlines()[1]
    assert secret not in str(caught.value) and secret not in caplog.text


def test_it_reads_rsa_pem_and_ed25519_openssh_keys():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    assert sshconn.load_private_key(pem).get_name() == "ssh-rsa"
    assert sshconn.load_private_key(ed25519_keypair()[0]).get_name() == "ssh-ed25519"


def test_it_looks_host_keys_up_by_port_and_accepts_hashed_names():
    _, public = ed25519_keypair()
    text = f"[10.0.0.5]:2222 {public}\n"
    assert sshconn.host_label("ssh://root@10.0.0.5:2222") == "[10.0.0.5]:2222"
    sshconn.load_known_hosts(text, "ssh://root@10.0.0.5:2222")
    with pytest.raises(sshconn.SSHMaterialError, match="no key for 10.0.0.5"):
        sshconn.load_known_hosts(text, "ssh://root@10.0.0.5")
    hashed = sshconn.paramiko.HostKeys.hash_host("manager.example.net")
    sshconn.load_known_hosts(f"{hashed} {public}\n", URL)


def test_it_refuses_to_poll_an_ssh_cluster_without_stored_material():
    with pytest.raises(client.PollFailed) as caught:
        client.fetch(url=URL, credentials=None)
    assert caught.value.kind == "credentials" and "--ssh-key" in caught.value.message
