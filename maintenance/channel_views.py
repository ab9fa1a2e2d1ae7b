"""Notification channels page for admins: add one, send a test message, see its last
deliveries, turn it off or delete it. A channel's URL and signing secret are never shown back."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts.roles import admin_required
from clusters.models import Cluster

from . import selectors
from .models import Channel, Reminder
from .services import channels as channel_services

TEMPLATE = "maintenance/channels.html"


def _page(request, *, form: dict | None = None, errors=(), status: int = 200):
    return render(
        request,
        TEMPLATE,
        {
            "channels": selectors.channels_with_deliveries(),
            "clusters": Cluster.objects.order_by("name"),
            "kinds": Channel.Kind.choices,
            "form": form or {"kind": Channel.Kind.WEBHOOK},
            "errors": errors,
        },
        status=status,
    )


@admin_required
def channels(request):
    """Every channel with its scope, state and last five deliveries, and the add form."""
    return _page(request)


@admin_required
@require_POST
@sensitive_post_parameters("url", "signing_secret")
def channel_add(request):
    """Add a channel; a bad name, kind or URL re-renders the form (without the URL) and stores
    nothing."""
    sent = {
        "name": request.POST.get("name", "").strip(),
        "kind": request.POST.get("kind", ""),
        "cluster": request.POST.get("cluster", ""),
    }
    errors = []
    cluster = None
    if sent["cluster"]:
        cluster = (
            Cluster.objects.filter(pk=sent["cluster"]).first()
            if sent["cluster"].isdigit()
            else None
        )
        if cluster is None:
            errors.append("Choose a cluster from the list, or all clusters.")
    if sent["kind"] not in Channel.Kind.values:
        errors.append("Choose a kind of channel.")
    if not errors:
        try:
            channel = channel_services.channel_create(
                name=sent["name"],
                kind=sent["kind"],
                url=request.POST.get("url", "").strip(),
                cluster=cluster,
                signing_secret=request.POST.get("signing_secret", "").strip(),
                now=timezone.now(),
            )
        except ValidationError as exc:
            errors.extend(exc.messages)
    if errors:
        return _page(request, form=sent, errors=errors, status=400)
    messages.success(request, f"Channel {channel.name} added. Send it a test message below.")
    return redirect("maintenance:channels")


@admin_required
@require_POST
def channel_test(request, pk: int):
    """Send a test message now and say what happened."""
    channel = get_object_or_404(Channel, pk=pk)
    row = channel_services.channel_test(channel=channel, now=timezone.now())
    if row.status == Reminder.Status.SENT:
        messages.success(request, f"Test message delivered to {channel.name}.")
    else:
        messages.error(
            request,
            f"Test message to {channel.name} not delivered: {row.last_error or row.status}.",
        )
    return redirect("maintenance:channels")


@admin_required
@require_POST
def channel_toggle(request, pk: int):
    channel = get_object_or_404(Channel, pk=pk)
    channel_services.channel_enable(channel=channel, enabled=not channel.enabled)
    state = "enabled" if channel.enabled else "disabled"
    messages.success(request, f"Channel {channel.name} {state}.")
    return redirect("maintenance:channels")


@admin_required
@require_POST
def channel_delete(request, pk: int):
    channel = get_object_or_404(Channel, pk=pk)
    if request.POST.get("confirm", "").strip() != channel.name:
        messages.error(request, f"Type the channel's name ({channel.name}) to delete it.")
        return redirect("maintenance:channels")
    name = channel.name
    channel_services.channel_delete(channel=channel)
    messages.success(request, f"Channel {name} deleted.")
    return redirect("maintenance:channels")
