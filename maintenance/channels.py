"""Notification channels: URL checks per kind, the webhook signature, and sending one message
(apprise for the chat services, our own signed JSON POST for the generic webhook). No writes:
the outbox records what happened."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass

import apprise
import requests
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

SIGNATURE_HEADER = "X-Watchkeeper-Signature"
DELIVERY_HEADER = "X-Watchkeeper-Delivery"
TIMEOUT = 10  # seconds, connect and read; the outbox lease is far longer

# kind -> the apprise plugin that must parse its URL (the URL's scheme decides the plugin)
APPRISE_PLUGINS = {
    "slack": "NotifySlack",
    "teams": "NotifyMSTeams",
    "mattermost": "NotifyMattermost",
    "discord": "NotifyDiscord",
    "ntfy": "NotifyNtfy",
    "pagerduty": "NotifyPagerDuty",
}
EXAMPLES = {
    "slack": "slack://TokenA/TokenB/TokenC or https://hooks.slack.com/services/...",
    "teams": "msteams://Team/TokenA/TokenB/TokenC or the Teams incoming-webhook https URL",
    "mattermost": "mmosts://mattermost.example.org/token",
    "discord": "discord://WebhookID/WebhookToken",
    "ntfy": "ntfys://ntfy.example.org/topic",
    "pagerduty": "pagerduty://IntegrationKey@ApiKey",
    "webhook": "https://hooks.example.org/watchkeeper",
}


def url_check(*, kind: str, url: str) -> str:
    """The URL, stripped, when it suits KIND; ValidationError with a clear message otherwise."""
    url = (url or "").strip()
    if kind not in EXAMPLES:
        raise ValidationError(f"Unknown channel kind {kind!r}; use one of {', '.join(EXAMPLES)}.")
    if not url:
        raise ValidationError(f"A {kind} channel needs a URL, like {EXAMPLES[kind]}.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in url) or " " in url:
        raise ValidationError("The URL contains spaces or control characters.")
    if kind == "webhook":
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise ValidationError(
                f"Not a valid http(s) URL for a webhook; expected like {EXAMPLES[kind]}."
            ) from None
        return url
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None or type(plugin).__name__ != APPRISE_PLUGINS[kind]:
        raise ValidationError(f"Not a valid {kind} URL; expected like {EXAMPLES[kind]}.")
    return url


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The X-Watchkeeper-Signature value: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def signature_verify(*, secret: str, header: str, body: bytes, now: int, tolerance=300) -> bool:
    """What a receiver does (docs/notifications.md): recompute, compare in constant time, and
    refuse a timestamp older (or newer) than TOLERANCE seconds."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret=secret, timestamp=timestamp, body=body)
    return hmac.compare_digest(expected, f"t={timestamp},v1={parts.get('v1', '')}")


@dataclass(frozen=True)
class Message:
    delivery_id: str  # the reminder's stable Message-ID: receivers deduplicate on it
    kind: str
    cluster: str
    title: str
    body: str


@dataclass(frozen=True)
class Outcome:
    ok: bool
    permanent: bool = False
    error: str = ""


def webhook_body(message: Message) -> bytes:
    return json.dumps(
        {
            "id": message.delivery_id,
            "kind": message.kind,
            "cluster": message.cluster,
            "title": message.title,
            "text": message.body,
        },
        sort_keys=True,
    ).encode()


def webhook_post(*, url: str, secret: str, message: Message, timestamp: int) -> Outcome:
    """POST the signed JSON; 2xx is accepted, 4xx (but 408 and 429) will never be."""
    body = webhook_body(message)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Watchkeeper",
        SIGNATURE_HEADER: signature(secret=secret, timestamp=timestamp, body=body),
        DELIVERY_HEADER: message.delivery_id,
    }
    try:
        response = requests.post(
            url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False
        )
    except requests.RequestException as exc:
        return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:2000])
    if 200 <= response.status_code < 300:
        return Outcome(True)
    permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
    return Outcome(False, permanent, f"HTTP {response.status_code}: {response.text[:300]}")


def apprise_notify(*, url: str, message: Message) -> Outcome:
    """Send through the apprise plugin of URL; apprise's own warnings become the error text."""
    sender = apprise.Apprise()
    if not sender.add(url):
        return Outcome(False, permanent=True, error="the stored URL is no longer accepted")
    with apprise.LogCapture(level=logging.WARNING) as captured:
        ok = sender.notify(title=message.title, body=message.body)
        logged = captured.getvalue().strip()
    if ok:
        return Outcome(True)
    return Outcome(False, error=(logged or "the service did not accept the message")[-2000:])


def deliver(*, kind: str, secret: dict, message: Message, timestamp: int) -> Outcome:
    """Send MESSAGE to a channel of KIND with its decrypted SECRET ({"url", "key"})."""
    if kind == "webhook":
        return webhook_post(
            url=secret["url"], secret=secret["key"], message=message, timestamp=timestamp
        )
    return apprise_notify(url=secret["url"], message=message)
