"""An OpenSSH server in a lab node's network namespace: the node as an ssh://root@ADDR host.

Every login runs `docker system dial-stdio` against the node's dockerd (ForceCommand), which
is all the Docker SDK asks of an SSH host. The server has its own generated host key, accepts
only the given public keys, and its files live in the lab's runtime directory.
"""

from __future__ import annotations

import shlex
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from lab.core import Lab
from lab.spec import LabError
from lab.system import poll, processes, reap, stop_pids, with_descendants

SSHD = Path("/usr/sbin/sshd")
PRIVSEP_DIR = Path("/run/sshd")
_privsep_lock = threading.Lock()
_privsep_users: set[int] = set()
_privsep_created = False


def ed25519_keypair() -> tuple[str, str]:
    """Return a new (OpenSSH private key text, `ssh-ed25519 AAAA...` public key)."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, public.decode()


@dataclass
class SSHServer:
    """A running sshd in a lab node's namespace."""

    addr: str
    port: int
    directory: Path
    host_public_key: str
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def url(self, user: str = "root") -> str:
        """Return the ssh:// endpoint of this server."""
        port = "" if self.port == 22 else f":{self.port}"
        return f"ssh://{user}@{self.addr}{port}"

    @property
    def known_hosts(self) -> str:
        """Return the known_hosts line for this server's host key."""
        name = self.addr if self.port == 22 else f"[{self.addr}]:{self.port}"
        return f"{name} {self.host_public_key}\n"

    def log(self) -> str:
        """Return sshd's log (its stderr)."""
        try:
            return (self.directory / "sshd.log").read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop sshd and its connection processes, and delete its files."""
        if self.proc is not None:
            stop_pids(with_descendants({self.proc.pid}, processes()), 5)
            reap(self.proc.pid)
            self.proc.wait()
            self.proc = None
        _release_privsep(id(self))
        shutil.rmtree(self.directory, ignore_errors=True)


def _claim_privsep(owner: int) -> None:
    """Make sure sshd's privilege separation directory exists while a server runs."""
    global _privsep_created
    with _privsep_lock:
        if not PRIVSEP_DIR.exists():
            PRIVSEP_DIR.mkdir(mode=0o755)
            _privsep_created = True
        _privsep_users.add(owner)


def _release_privsep(owner: int) -> None:
    """Remove the privilege separation directory if we made it and no server needs it."""
    global _privsep_created
    with _privsep_lock:
        _privsep_users.discard(owner)
        if _privsep_created and not _privsep_users:
            PRIVSEP_DIR.rmdir()
            _privsep_created = False


def _config(directory: Path, addr: str, port: int, docker_host: str, docker_cli: str) -> str:
    """Return sshd_config: key login only, every session becomes `docker system dial-stdio`."""
    command = f"exec env DOCKER_HOST={shlex.quote(docker_host)} {docker_cli} system dial-stdio"
    return "\n".join(
        [
            f"ListenAddress {addr}:{port}",
            f"HostKey {directory / 'host_ed25519'}",
            f"PidFile {directory / 'sshd.pid'}",
            f"AuthorizedKeysFile {directory / 'authorized_keys'}",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "AllowTcpForwarding no",
            "AllowAgentForwarding no",
            "X11Forwarding no",
            "PermitTTY no",
            "PrintMotd no",
            "LogLevel ERROR",
            f"ForceCommand {command}",
            "",
        ]
    )


def root_locked(shadow: Path = Path("/etc/shadow")) -> bool:
    """Whether root's password field is locked ("!..."): sshd without PAM (our config) then
    refuses root even with a key. "*" (no password) is fine; an unreadable file is not locked."""
    try:
        lines = shadow.read_text(errors="replace").splitlines()
    except OSError:
        return False
    for line in lines:
        name, _, rest = line.partition(":")
        if name == "root":
            return rest.startswith("!")
    return False


def start_sshd(
    lab: Lab,
    hostname: str | None = None,
    *,
    authorized_keys: list[str],
    port: int = 22,
    docker_host: str | None = None,
) -> SSHServer:
    """Start sshd on a node's lab address (the lab needs host_link=True); wait until it answers.

    docker_host defaults to the node's own dockerd socket; stop the server with `stop()`.
    """
    state = lab.state
    if state is None or not state.host_link:
        raise LabError("start_sshd needs a running lab made with host_link=True")
    if not SSHD.exists():
        raise LabError(f"{SSHD} is missing (Debian package openssh-server; `make lab-deps`)")
    if root_locked():
        raise LabError(
            "root's account is locked in /etc/shadow (password field starts with '!'): sshd "
            "refuses key logins to locked accounts; unlock it for key login with "
            "`usermod -p '*' root` (still no password login), or skip the SSH lab tests"
        )
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        raise LabError("the docker CLI is missing (Debian package docker.io)")
    node = state.node(hostname or lab.manager)
    directory = state.run_dir / f"sshd-n{node.index}-{port}"
    directory.mkdir(mode=0o700, parents=True)
    host_private, host_public = ed25519_keypair()
    key_path = directory / "host_ed25519"
    key_path.touch(mode=0o600)
    key_path.write_text(host_private)
    (directory / "authorized_keys").write_text("".join(f"{k.strip()}\n" for k in authorized_keys))
    docker_host = docker_host or f"unix://{lab.node_socket(node.hostname)}"
    config = directory / "sshd_config"
    config.write_text(_config(directory, node.addr, port, docker_host, docker_cli))
    server = SSHServer(node.addr, port, directory, host_public)
    _claim_privsep(id(server))
    try:
        with open(directory / "sshd.log", "ab") as log:
            server.proc = subprocess.Popen(
                [
                    "nsenter", f"--net=/run/netns/{state.prefix}-n{node.index}",
                    str(SSHD), "-D", "-e", "-f", str(config),
                ],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

        def listening() -> bool:
            if server.proc is not None and server.proc.poll() is not None:
                raise LabError(f"sshd exited: {server.log().strip()}")
            try:
                socket.create_connection((node.addr, port), timeout=1).close()
            except OSError:
                return False
            return True

        poll(listening, 10, f"sshd on {node.addr}:{port}")
    except BaseException:
        server.stop()
        raise
    return server
