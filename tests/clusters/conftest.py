import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clusters.client import RawPoll
from clusters.normalize import parse_time

FIXTURES = Path(__file__).parent / "fixtures"


def load_raw(name: str) -> dict:
    """A poll's raw Engine API JSON recorded from the lab."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def raw_poll(raw: dict) -> RawPoll:
    raw = copy.deepcopy(raw)
    return RawPoll(
        version=raw["version"],
        info=raw["info"],
        nodes=raw["nodes"],
        services=raw["services"],
        tasks_running=raw["tasks_running"],
        tasks_shutdown=raw["tasks_shutdown"],
        networks=raw["networks"],
        secrets=raw["secrets"],
        configs=raw["configs"],
        events=raw["events"],
        engine_time=parse_time(raw["info"]["SystemTime"]),
        swarm=raw.get("swarm") or {},
        images=raw.get("images") or {},
    )


def recorded_now(raw: dict) -> datetime:
    return datetime.fromtimestamp(raw["until"], tz=UTC)


@pytest.fixture
def poll1():
    return load_raw("lab_poll1")


@pytest.fixture
def poll2():
    return load_raw("lab_poll2")


def fetcher(*raws: dict):
    """A stand-in for clusters.client.fetch returning the given recordings in turn."""
    queue = [raw_poll(r) for r in raws]
    calls = []

    def fetch(**kwargs):
        calls.append(kwargs)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    fetch.calls = calls
    return fetch


@pytest.fixture
def cluster(db):
    from clusters.models import Cluster

    return Cluster.objects.create(name="lab", url="unix:///run/lab.sock")


def tls_material(passphrase: bytes | None = None) -> tuple[str, str]:
    """A self-signed certificate and its private key (PEM), the key encrypted with PASSPHRASE."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "watchkeeper-test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    encryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()
