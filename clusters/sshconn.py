"""ssh:// endpoints: paramiko with exactly the stored private key and known_hosts lines.

Nothing comes from ~/.ssh (config, keys, known_hosts) or an SSH agent, and no key is written to
disk: the key is parsed from its text into a paramiko PKey. An unknown host key is refused
(RejectPolicy); `scan_host_key` is the explicit trust-on-first-use step used by
`cluster add --ssh-accept-new-host-key`. Error messages never contain key material.
"""

from __future__ import annotations

import io
import socket
import threading
from urllib.parse import urlsplit

import paramiko
from docker.transport.sshconn import SSHHTTPAdapter

SSH_PORT = 22
KEY_TYPES = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)


class SSHMaterialError(ValueError):
    """A private key or known_hosts text is unusable (the message holds no key material)."""


def load_private_key(text: str) -> paramiko.PKey:
    """Parse an unencrypted OpenSSH or PEM private key (ed25519, ECDSA, RSA) from TEXT."""
    if "PRIVATE KEY-----" not in text:
        raise SSHMaterialError("is not an SSH private key (OpenSSH or PEM format)")
    for key_type in KEY_TYPES:
        try:
            return key_type.from_private_key(io.StringIO(text))
        except paramiko.PasswordRequiredException:
            raise SSHMaterialError(
                "is encrypted with a passphrase: give a key without one (stored encrypted)"
            ) from None
        except (paramiko.SSHException, ValueError, TypeError, IndexError):
            continue
    raise SSHMaterialError("is not a usable SSH private key (ed25519, ECDSA or RSA)")


def host_label(url: str) -> str:
    """The known_hosts name of URL's host: `host`, or `[host]:port` off port 22."""
    parts = urlsplit(url)
    port = parts.port or SSH_PORT
    return parts.hostname if port == SSH_PORT else f"[{parts.hostname}]:{port}"


def load_known_hosts(text: str, url: str | None = None) -> paramiko.HostKeys:
    """HostKeys from known_hosts TEXT; with URL, it must hold a key for URL's host."""
    keys = paramiko.HostKeys()
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            raise SSHMaterialError(f"line {number}: @cert-authority and @revoked are unsupported")
        if "PRIVATE KEY" in line or len(line.split()) < 3:
            # Checked here: paramiko would log the offending line (maybe key material).
            raise SSHMaterialError(f"line {number} is not a known_hosts entry")
        try:
            entry = paramiko.hostkeys.HostKeyEntry.from_line(line, number)
        except (paramiko.hostkeys.InvalidHostKey, paramiko.SSHException, ValueError, TypeError):
            entry = None
        if entry is None or entry.key is None:
            raise SSHMaterialError(f"line {number} is not a known_hosts entry")
        for name in entry.hostnames:
            keys.add(name, entry.key.get_name(), entry.key)
    if not keys.keys():
        raise SSHMaterialError("holds no host key")
    if url is not None and keys.lookup(host_label(url)) is None:
        raise SSHMaterialError(f"has no key for {host_label(url)}")
    return keys


def scan_host_key(url: str, timeout: float) -> str:
    """Fetch the host key URL's server offers now (no authentication): a known_hosts line."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port or SSH_PORT), timeout=timeout)
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = timeout
        transport.start_client(timeout=timeout)
        key = transport.get_remote_server_key()
    finally:
        transport.close()
        sock.close()
    return f"{host_label(url)} {key.get_name()} {key.get_base64()}"


class PinnedSSHAdapter(SSHHTTPAdapter):
    """The SDK's paramiko adapter, connecting with our key and host keys and nothing else."""

    def __init__(
        self,
        base_url: str,
        *,
        key: str,
        known_hosts: str,
        connect_timeout: float,
        timeout: float,
        max_pool_size: int,
    ) -> None:
        self._key_text = key
        self._known_hosts = known_hosts
        self._connect_timeout = connect_timeout
        super().__init__(base_url, timeout, max_pool_size=max_pool_size, shell_out=False)

    def get_connection(self, url: str, proxies: dict | None = None):
        """One pool for every path: the SDK keys pools by URL, holding an SSH channel open
        per API path, and a poll's dozen paths exceed sshd's default MaxSessions (10)."""
        return super().get_connection("http+docker://ssh", proxies)

    def _create_paramiko_client(self, base_url: str) -> None:
        """Replace the SDK's ~/.ssh lookup: our host keys, RejectPolicy, our key only."""
        parts = urlsplit(base_url)
        self.ssh_client = paramiko.SSHClient()
        host_keys = self.ssh_client.get_host_keys()
        for name, by_type in load_known_hosts(self._known_hosts).items():
            for key_type, key in by_type.items():
                host_keys.add(name, key_type, key)
        self.ssh_client.set_missing_host_key_policy(paramiko.RejectPolicy())
        self.ssh_params = {
            "hostname": parts.hostname,
            "port": parts.port or SSH_PORT,
            "username": parts.username,
            "pkey": load_private_key(self._key_text),
            "allow_agent": False,
            "look_for_keys": False,
            "timeout": self._connect_timeout,
            "banner_timeout": self._connect_timeout,
            "auth_timeout": self._connect_timeout,
            "channel_timeout": self._connect_timeout,
        }
        self._key_text = ""

    def close(self) -> None:
        """Close the pool and the SSH connection, and wait for paramiko's transport thread to
        end: a poll leaves no thread behind (paramiko's own close does not always wait)."""
        transport = self.ssh_client.get_transport() if self.ssh_client else None
        super().close()
        if transport is not None and transport is not threading.current_thread():
            transport.join(self._connect_timeout)
