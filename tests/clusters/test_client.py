"""Client failures mapped to clear messages (no lab needed)."""

import http.server
import json
import socket
import ssl
import threading
from unittest import mock

import orjson
import pytest
import requests

from clusters import client, connection


def test_it_says_when_the_socket_does_not_exist(tmp_path):
    with pytest.raises(client.PollFailed) as caught:
        client.fetch(url=f"unix://{tmp_path}/docker.sock")
    assert caught.value.kind == "socket_missing"
    assert f"{tmp_path}/docker.sock does not exist" in caught.value.message


def test_it_says_when_the_connection_is_refused():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(client.PollFailed) as caught:
        client.fetch(url=f"tcp://127.0.0.1:{port}")
    assert caught.value.kind == "refused"
    assert f"Connection refused by tcp://127.0.0.1:{port}" in caught.value.message


def test_it_times_out():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)  # accepts the connection, never answers
        port = sock.getsockname()[1]
        with pytest.raises(client.PollFailed) as caught:
            client.fetch(url=f"tcp://127.0.0.1:{port}", timeout=0.2)
    assert caught.value.kind == "timeout"
    assert "did not answer within" in caught.value.message


class FakeEngine(http.server.BaseHTTPRequestHandler):
    """An Engine API on loopback: answer(path) gives the status and the body of each GET."""

    def answer(self, path: str) -> tuple[int, bytes]:
        raise NotImplementedError

    def do_GET(self):  # noqa: N802 - http.server's naming
        status, body = self.answer(self.path.split("?")[0])
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def failed_fetch(handler: type[FakeEngine]) -> client.PollFailed:
    """The PollFailed a poll of a server running HANDLER raises."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(client.PollFailed) as caught:
            client.fetch(url=f"tcp://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
    return caught.value


class Junk(FakeEngine):
    def answer(self, path):
        return 200, b'{"ApiVersion": "1.41"}' if path.endswith("/version") else b"<html>"


def test_it_says_when_the_response_is_malformed():
    assert failed_fetch(Junk).kind == "malformed"


class FailingManager(FakeEngine):
    """A swarm manager whose /nodes fails with an error text holding control characters."""

    def answer(self, path):
        status, body = 200, {"ApiVersion": "1.41", "Version": "20.10.24"}
        if path.endswith("/info"):
            body = {"Swarm": {"LocalNodeState": "active", "ControlAvailable": True}}
        elif path.endswith("/nodes"):
            status, body = 500, {"message": "raft \x1b[2J\x1b]0;owned\x07broke\x00 down"}
        return status, json.dumps(body).encode()


def test_it_reports_an_api_error_with_its_status_and_printable_text_only():
    failure = failed_fetch(FailingManager)
    assert failure.kind == "api_error"
    message = failure.message
    assert "answered with an error (500)" in message and "broke" in message
    assert message.isprintable() and str(failure) == message


def test_it_keeps_only_printable_text_of_the_engine_in_messages():
    state = "pending\x1b[31m\n\x00"
    with pytest.raises(client.PollFailed) as caught:
        client.check_manager({"Swarm": {"LocalNodeState": state}}, "unix:///x.sock")
    assert caught.value.message.isprintable() and "pending" in caught.value.message


@pytest.mark.parametrize(
    ("swarm", "message"),
    [
        ({"LocalNodeState": "inactive", "ControlAvailable": False}, "not part of a swarm"),
        ({"LocalNodeState": "active", "ControlAvailable": False}, "a swarm worker, not a manager"),
    ],
)
def test_it_refuses_what_is_not_a_swarm_manager(swarm, message):
    with pytest.raises(client.PollFailed, match=message) as caught:
        client.check_manager({"Swarm": swarm}, "unix:///var/run/docker.sock")
    assert caught.value.kind == "not_manager"
    client.check_manager({"Swarm": {"LocalNodeState": "active", "ControlAvailable": True}}, "x")


def test_it_never_shows_credentials_in_the_url():
    assert connection.display_url("ssh://deploy@host:22") == "ssh://deploy@host:22"
    assert connection.display_url("tcp://u:pw@host:2376/x?y=1") == "tcp://u@host:2376"
    assert connection.validate_url("tcp://u:pw@host:2376") == "do not put a password in the URL"


def test_it_writes_tls_material_to_private_files_removed_afterwards():
    with connection._tls_files({"ca": "A", "cert": "B", "key": "C"}) as files:
        import os
        import stat

        assert {stat.S_IMODE(os.stat(p).st_mode) for p in files.values()} == {0o600}
        paths = list(files.values())
    assert not any(os.path.exists(p) for p in paths)


@pytest.mark.parametrize(
    ("cause", "kind", "message"),
    [
        (
            requests.exceptions.ConnectionError(socket.gaierror(-2, "Name or service not known")),
            "unreachable",
            "tcp://manager.example.net:2376 cannot be reached (network error).",
        ),
        (
            requests.exceptions.SSLError(
                ssl.SSLCertVerificationError(
                    1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed"
                )
            ),
            "tls",
            "TLS verification failed for tcp://manager.example.net:2376: the server's "
            "certificate is not signed by the configured CA.",
        ),
        (
            requests.exceptions.SSLError(
                ssl.SSLError(1, "[SSL: TLSV1_ALERT_UNKNOWN_CA] unknown ca")
            ),
            "tls",
            "TLS verification failed for tcp://manager.example.net:2376: the server refused "
            "our client certificate.",
        ),
    ],
)
def test_it_words_network_and_tls_failures_without_the_credentials(cause, kind, message):
    failure = connection.describe(cause, "tcp://manager.example.net:2376", 30)
    assert (failure.kind, failure.message) == (kind, message)


@pytest.mark.parametrize(
    "url",
    [
        "unix:///var/run/docker.sock\n",
        "unix:///var/run/\ndocker.sock",
        "ssh://admin@manager.example.net\n",
        "ssh://admin@manager\t.example.net",
        "ssh://admin@manager.example.net\x1b[2J",
        "tcp://manager.example.net:2376\r\n",
    ],
)
def test_urls_with_control_characters_are_refused(url):
    assert "control characters" in connection.validate_url(url)


ENGINE_BODIES = {
    "version": {"ApiVersion": "1.41", "Version": "24.0.7"},
    "info": {
        "Swarm": {"LocalNodeState": "active", "ControlAvailable": True, "Nodes": 1},
        "SystemTime": "2026-12-05T10:00:00.123456789Z",
    },
    "swarm": {"ID": "sw", "JoinTokens": {"Worker": "SWMTKN-w", "Manager": "SWMTKN-m"}},
    # A lone surrogate (Docker takes any label): orjson refuses it, the json module does not.
    "nodes": [{"ID": "n1", "Spec": {"Labels": {"odd": "\ud800!"}}, "Description": {}}],
    "services": [{"ID": "s1", "Version": {"Index": 2**63 - 1}, "Spec": {"Name": "caf\u00e9"}}],
    "tasks": [{"ID": "t1", "ServiceID": "s1", "Status": {"State": "running"}}],
    "networks": [{"Id": "w1", "Name": "ingress", "Options": {}}],
    "secrets": [],
    "configs": [{"ID": "c1", "Spec": {"Name": "conf", "Data": "c2VjcmV0"}}],
}


class Manager(FakeEngine):
    """A swarm manager answering ENGINE_BODIES (JSON with \\u escapes, as json.dumps writes)."""

    def answer(self, path):
        if path.endswith("/events"):
            return 200, b""
        return 200, json.dumps(ENGINE_BODIES[path.rsplit("/", 1)[-1]]).encode()


@pytest.mark.parametrize("orjson_max", [connection.ORJSON_MAX_BYTES, 80])
def test_answers_decode_with_orjson_and_as_the_json_module_would(monkeypatch, orjson_max):
    monkeypatch.setattr(connection, "ORJSON_MAX_BYTES", orjson_max)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Manager)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    decoded, loads = [], orjson.loads

    def counted(data):
        decoded.append(bytes(data))
        return loads(data)

    try:
        with mock.patch.object(connection.orjson, "loads", counted):
            raw = client.fetch(url=f"tcp://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
    expected = json.loads(json.dumps(ENGINE_BODIES))
    assert raw.nodes == expected["nodes"]  # decoded the SDK's way, the same
    assert raw.nodes[0]["Spec"]["Labels"]["odd"] == "\ud800!"
    assert raw.services == expected["services"]
    assert raw.tasks_running == expected["tasks"]
    assert raw.networks == expected["networks"]
    assert raw.configs == [{"ID": "c1", "Spec": {"Name": "conf"}}]
    assert raw.info == expected["info"]
    assert raw.nul_free
    # /tasks (65 bytes) went through orjson; /services (88) only with the default limit
    assert b'"ID": "t1"' in b"".join(decoded)
    assert (b'"Name": "caf' in b"".join(decoded)) == (orjson_max > 88)


class ManagerWithNul(Manager):
    def answer(self, path):
        status, body = super().answer(path)
        return status, body.replace(b'"conf"', b'"con\\u0000f"')


def test_a_nul_in_an_answer_is_noticed_as_it_is_read():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ManagerWithNul)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        raw = client.fetch(url=f"tcp://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
    assert raw.configs[0]["Spec"]["Name"] == "con\x00f" and not raw.nul_free
