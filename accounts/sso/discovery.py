"""The provider's discovery document (ISSUER/.well-known/openid-configuration), read lazily.

Fetched at the first sign-in, not at start: `manage.py` and the workers never need the
provider. Kept in memory for an hour; a failure is not kept, the next sign-in tries again.
"""

import threading
import time

import requests

TTL_SECONDS = 3600
TIMEOUT_SECONDS = 10
REQUIRED = ("authorization_endpoint", "token_endpoint", "jwks_uri")

_lock = threading.Lock()
_cache: dict[str, tuple[float, dict]] = {}


class DiscoveryError(Exception):
    """The provider's discovery document could not be read or is not usable."""


def document(issuer: str) -> dict:
    """The discovery document of ISSUER, checked: its `issuer` must be ISSUER exactly."""
    with _lock:
        hit = _cache.get(issuer)
        if hit and time.monotonic() - hit[0] < TTL_SECONDS:
            return hit[1]
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        doc = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise DiscoveryError(f"cannot read {url}: {exc}") from exc
    if not isinstance(doc, dict):
        raise DiscoveryError(f"{url} is not a JSON object")
    if str(doc.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        raise DiscoveryError(
            f"{url} names issuer {doc.get('issuer')!r}, not {issuer!r} "
            "(WATCHKEEPER_OIDC_ISSUER must be the provider's issuer exactly)"
        )
    missing = [key for key in REQUIRED if not doc.get(key)]
    if missing:
        raise DiscoveryError(f"{url} lacks {', '.join(missing)}")
    if issuer.startswith("https://"):
        plain = [
            key
            for key in (*REQUIRED, "userinfo_endpoint")
            if str(doc.get(key, "")).startswith("http://")
        ]
        if plain:
            raise DiscoveryError(f"{url} names plain-http endpoints: {', '.join(plain)}")
    with _lock:
        _cache[issuer] = (time.monotonic(), doc)
    return doc


def forget() -> None:
    """Drop the cached documents (tests; a provider that moved its endpoints)."""
    with _lock:
        _cache.clear()
