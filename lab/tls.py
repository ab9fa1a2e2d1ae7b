"""A throwaway CA with server and client certificates, made with the openssl CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab.system import run

DAYS = "30"
# Python 3.13 verifies strictly (VERIFY_X509_STRICT): leaves need these extensions.
LEAF_EXT = (
    "basicConstraints=CA:FALSE\n"
    "keyUsage=critical,digitalSignature,keyEncipherment\n"
    "subjectKeyIdentifier=hash\n"
    "authorityKeyIdentifier=keyid,issuer\n"
)


@dataclass(frozen=True)
class TLSFiles:
    """Paths of the client-side TLS material (CA, client certificate and key)."""

    ca: Path
    cert: Path
    key: Path


@dataclass(frozen=True)
class ServerTLS:
    """Paths the daemon needs to serve TLS."""

    ca: Path
    cert: Path
    key: Path


def _sign(tls_dir: Path, name: str, subject: str, ext: str) -> tuple[Path, Path]:
    """Create a key and a certificate for `name`, signed by the lab CA."""
    key, csr, cert = (tls_dir / f"{name}-key.pem", tls_dir / f"{name}.csr", tls_dir / f"{name}.pem")
    ext_file = tls_dir / f"{name}.ext"
    ext_file.write_text(LEAF_EXT + ext)
    run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", subject)  # fmt: skip
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(tls_dir / "ca.pem"),
        "-CAkey", str(tls_dir / "ca-key.pem"), "-CAcreateserial", "-days", DAYS,
        "-out", str(cert), "-extfile", str(ext_file))  # fmt: skip
    csr.unlink()
    ext_file.unlink()
    return cert, key


def make_ca(tls_dir: Path, cn: str = "watchkeeper-lab-ca") -> Path:
    """Create a self-signed CA in `tls_dir`; return the CA certificate path."""
    tls_dir.mkdir(parents=True, exist_ok=True)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", str(tls_dir / "ca-key.pem"), "-out", str(tls_dir / "ca.pem"),
        "-days", DAYS, "-subj", f"/CN={cn}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    return tls_dir / "ca.pem"


def make_tls(tls_dir: Path, hostname: str, ips: list[str]) -> tuple[ServerTLS, TLSFiles]:
    """Create CA, server (SAN: hostname, ips, localhost) and client material."""
    ca = make_ca(tls_dir)
    san = ",".join(
        [f"DNS:{hostname}", "DNS:localhost", "IP:127.0.0.1"] + [f"IP:{ip}" for ip in ips]
    )
    server = _sign(
        tls_dir, "server", f"/CN={hostname}",
        f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n",
    )  # fmt: skip
    client = _sign(tls_dir, "client", "/CN=watchkeeper", "extendedKeyUsage=clientAuth\n")
    return ServerTLS(ca, *server), TLSFiles(ca, *client)
