"""A cluster's endpoint as given on the command line or the settings page: the URL and its
TLS or SSH material, checked (one place for the PEM and SSH checks), and the input error
that names the field at fault."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from django.views.decorators.debug import sensitive_variables

from clusters import connection, sshconn

PEM_MARKERS = {
    "ca": "-----BEGIN CERTIFICATE-----",
    "cert": "-----BEGIN CERTIFICATE-----",
    "key": "PRIVATE KEY-----",
}


class ClusterInputError(ValueError):
    """Bad input for a cluster command or the settings page; the message says what to fix.

    ``field`` names the input at fault (the settings form's field name) when there is one.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# How messages name the inputs: the command line's options, or the settings page's fields.
CLI_NAMES = {
    "url_problem": "--url: {}.",
    "environment": "--environment",
    "tls_ca": "--tls-ca",
    "tls_cert": "--tls-cert",
    "tls_key": "--tls-key",
    "tls_any": "TLS files",
    "ssh_key": "--ssh-key",
    "ssh_known_hosts": "--ssh-known-hosts",
    "ssh_accept_new_host_key": "--ssh-accept-new-host-key",
    "ssh_any": "SSH options",
    "recipients": "--notify",
}
FORM_NAMES = {
    "url_problem": "{}.",
    "environment": "the environment",
    "tls_ca": "the CA certificate",
    "tls_cert": "the client certificate",
    "tls_key": "the client key",
    "tls_any": "TLS files",
    "ssh_key": "the SSH private key",
    "ssh_known_hosts": "known_hosts",
    "ssh_accept_new_host_key": '"accept the host key it shows now"',
    "ssh_any": "SSH keys and host keys",
    "recipients": "recipients",
}
TLS_KINDS = ("ca", "cert", "key")


def _read_text(path: str | Path, option: str) -> str:
    """The text of the file given to --OPTION; ClusterInputError if it cannot be read."""
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ClusterInputError(
            f"--{option}: cannot read {path} ({getattr(exc, 'strerror', None) or 'not text'})."
        ) from None


def pem_problem(kind: str, text: str) -> str | None:
    """Why TEXT cannot serve as the TLS KIND (ca, cert, key) of a poll, or None: not PEM, a
    damaged certificate, a key behind a passphrase (OpenSSL would ask for it on every poll).

    The one check of TLS material, for the command line and the settings page alike
    (endpoint_checked calls it on every file given)."""
    if PEM_MARKERS[kind] not in text:
        return "is not a PEM private key" if kind == "key" else "is not a PEM certificate"
    try:
        if kind == "key":
            serialization.load_pem_private_key(text.encode(), password=None)
        else:
            x509.load_pem_x509_certificates(text.encode())
    except TypeError:
        return "is encrypted: give the key without a passphrase (it is stored encrypted)"
    except (ValueError, UnsupportedAlgorithm):
        return f"is not a readable PEM {'private key' if kind == 'key' else 'certificate'}"
    return None


def read_pem(path: str | Path, kind: str) -> str:
    """The text of the PEM file given to --tls-KIND; ClusterInputError naming the file if it
    cannot be read or pem_problem finds it unusable."""
    text = _read_text(path, f"tls-{kind}")
    problem = pem_problem(kind, text)
    if problem:
        raise ClusterInputError(f"--tls-{kind}: {path} {problem}.")
    return text


def read_ssh_file(path: str | Path, option: str) -> str:
    """Read the file given to --ssh-key or --ssh-known-hosts, checked; never echo its text."""
    text = _read_text(path, option)
    try:
        if option == "ssh-key":
            sshconn.load_private_key(text)
        else:
            sshconn.load_known_hosts(text)
    except sshconn.SSHMaterialError as exc:
        raise ClusterInputError(f"--{option}: {path} {exc}.") from None
    return text


@sensitive_variables()
def _ssh_credentials(
    url: str,
    key: str,
    known_hosts: str,
    accept_new_host_key: bool,
    names: dict[str, str] = CLI_NAMES,
) -> dict[str, str]:
    """The stored SSH credentials: the key, and the known_hosts given or fetched now."""
    n = names
    if not key:
        raise ClusterInputError(
            f"an ssh:// URL needs {n['ssh_key']} (the private key to log in with).", "ssh_key"
        )
    if known_hosts and accept_new_host_key:
        raise ClusterInputError(
            f"give {n['ssh_known_hosts']} or {n['ssh_accept_new_host_key']}, not both.",
            "ssh_known_hosts",
        )
    if not known_hosts and not accept_new_host_key:
        raise ClusterInputError(
            f"an ssh:// URL needs {n['ssh_known_hosts']} (the host's key, e.g. from "
            f"`ssh-keyscan HOST`), or {n['ssh_accept_new_host_key']} to trust the key it "
            "shows now.",
            "ssh_known_hosts",
        )
    try:
        sshconn.load_private_key(key)
    except sshconn.SSHMaterialError as exc:
        raise ClusterInputError(f"{n['ssh_key']} {exc}.", "ssh_key") from None
    if accept_new_host_key:
        try:
            known_hosts = sshconn.scan_host_key(url, connection.CONNECT_TIMEOUT)
        except (OSError, EOFError, sshconn.paramiko.SSHException) as exc:
            raise ClusterInputError(
                f"{n['ssh_accept_new_host_key']}: cannot fetch the host key of "
                f"{connection.display_url(url)} ({type(exc).__name__}).",
                "ssh_accept_new_host_key",
            ) from None
    try:
        sshconn.load_known_hosts(known_hosts, url)
    except sshconn.SSHMaterialError as exc:
        raise ClusterInputError(f"{n['ssh_known_hosts']} {exc}.", "ssh_known_hosts") from None
    return {"ssh_key": key, "ssh_known_hosts": known_hosts}


@dataclass(frozen=True)
class Endpoint:
    """A checked URL and what to connect with: the new material over the stored one."""

    url: str
    scheme: str
    tls: dict[str, str]
    ssh_key: str
    ssh_known_hosts: str
    ssh_accept_new_host_key: bool
    names: dict[str, str]

    def __repr__(self) -> str:  # never show key material (tracebacks, logs)
        return f"Endpoint({connection.display_url(self.url)!r})"

    def credentials(self) -> dict[str, str] | None:
        """The material to store and connect with; SSH host keys may be fetched now."""
        if self.scheme == "tcp":
            return dict(self.tls)
        if self.scheme == "ssh":
            return _ssh_credentials(
                self.url,
                self.ssh_key,
                self.ssh_known_hosts,
                self.ssh_accept_new_host_key,
                self.names,
            )
        return None


@sensitive_variables()
def endpoint_checked(
    *,
    url: str,
    tls: dict[str, str] | None,
    ssh_key: str,
    ssh_known_hosts: str,
    ssh_accept_new_host_key: bool,
    stored: dict[str, str],
    names: dict[str, str],
) -> Endpoint:
    """Check URL and the credentials given for it (files given now, else the STORED ones).

    Material for another scheme than the URL's is refused when given now and dropped when
    stored (changing the URL from tcp:// to unix:// forgets the TLS files).
    """
    n = names
    problem = connection.validate_url(url)
    if problem:
        raise ClusterInputError(n["url_problem"].format(problem), "url")
    scheme = url.split("://", 1)[0]
    if scheme != "ssh" and (ssh_key or ssh_known_hosts or ssh_accept_new_host_key):
        raise ClusterInputError(f"{n['ssh_any']} only go with an ssh:// URL.", "ssh_key")
    given = {k: v for k, v in (tls or {}).items() if v}
    if given and scheme != "tcp":
        raise ClusterInputError(f"{n['tls_any']} only go with a tcp:// URL.", "tls_ca")
    merged = {}
    if scheme == "tcp":
        merged = {k: stored[k] for k in TLS_KINDS if stored.get(k)} | given
        missing = [k for k in TLS_KINDS if k not in merged]
        if missing:
            raise ClusterInputError(
                f"a tcp:// URL needs {n['tls_ca']}, {n['tls_cert']} and {n['tls_key']}.",
                f"tls_{missing[0]}",
            )
    for kind, text in given.items():
        problem = pem_problem(kind, text)
        if problem:
            raise ClusterInputError(f"{n['tls_' + kind]} {problem}.", f"tls_{kind}")
    if scheme == "ssh":
        ssh_key = ssh_key or stored.get("ssh_key", "")
        if not ssh_known_hosts and not ssh_accept_new_host_key:
            ssh_known_hosts = stored.get("ssh_known_hosts", "")
    return Endpoint(
        url=url,
        scheme=scheme,
        tls=merged,
        ssh_key=ssh_key,
        ssh_known_hosts=ssh_known_hosts,
        ssh_accept_new_host_key=ssh_accept_new_host_key,
        names=names,
    )
