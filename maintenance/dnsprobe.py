"""The switchover DNS step's probe: resolve a hostname's A records and judge them.

No Django. Passes when every address is a manager node's address or a configured ingress
address; warns when the TTL is above 300 s (the step is due at T-48h; resolvers may keep
the old address past the switchover).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import dns.exception
import dns.resolver

from .checklists import DNS_TTL_WARNING


@dataclass(frozen=True)
class ProbeOutcome:
    passed: bool
    detail: str
    warning: str = ""
    addresses: tuple[str, ...] = ()
    ttl: int | None = None


def parse_server(text: str) -> tuple[str, int] | None:
    """'10.0.0.53' or '10.0.0.53:5353' or '[::1]:53' -> (address, port); '' -> None."""
    text = (text or "").strip()
    if not text:
        return None
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = int(port_text)
    ipaddress.ip_address(host)  # ValueError for a name: the server must be an address
    return host, port


def split_addresses(text: str) -> set[str]:
    """'10.0.0.1, 10.0.0.2' -> {'10.0.0.1', '10.0.0.2'} (comma or space separated)."""
    return {part for part in (text or "").replace(",", " ").split() if part}


def host_of(addr: str) -> str:
    """'10.0.0.10:2377' -> '10.0.0.10'."""
    addr = (addr or "").strip()
    if addr.startswith("["):
        return addr[1:].partition("]")[0]
    if addr.count(":") == 1:
        return addr.partition(":")[0]
    return addr


def resolve_a(hostname: str, *, server: str = "", timeout: float = 5.0) -> tuple[list[str], int]:
    """The A record addresses of HOSTNAME and their TTL (system resolver or SERVER)."""
    target = parse_server(server)
    resolver = dns.resolver.Resolver(configure=target is None)
    if target is not None:
        resolver.nameservers = [target[0]]
        resolver.port = target[1]
    resolver.lifetime = timeout
    resolver.cache = None
    answer = resolver.resolve(hostname, "A")
    return sorted(record.address for record in answer), answer.rrset.ttl


def probe(
    *,
    hostname: str,
    allowed: set[str],
    server: str = "",
    timeout: float = 5.0,
) -> ProbeOutcome:
    """Resolve HOSTNAME and pass when every A address is in ALLOWED."""
    try:
        addresses, ttl = resolve_a(hostname, server=server, timeout=timeout)
    except (dns.exception.DNSException, OSError, ValueError) as exc:
        return ProbeOutcome(False, f"{hostname}: no A record could be resolved ({exc})")
    stray = [address for address in addresses if address not in allowed]
    listed = ", ".join(addresses)
    if stray:
        detail = (
            f"{hostname} A {listed} (TTL {ttl} s): {', '.join(stray)} is not a manager or "
            f"ingress address ({', '.join(sorted(allowed)) or 'none known'})"
        )
    else:
        detail = f"{hostname} A {listed} (TTL {ttl} s): every address is a manager or ingress"
    warning = ""
    if ttl > DNS_TTL_WARNING:
        warning = (
            f"TTL {ttl} s is above {DNS_TTL_WARNING} s: resolvers may keep the old address "
            "past the switchover; lower it."
        )
    return ProbeOutcome(not stray, detail, warning, tuple(addresses), ttl)
