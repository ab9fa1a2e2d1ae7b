"""The cluster settings form: parses and re-displays input; clusters.registration validates it."""

from __future__ import annotations

import json

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.text import capfirst
from django.views.decorators.debug import sensitive_variables

from accounts.models import DEFAULT_TEAM, Team

from .endpoint import ClusterInputError
from .models import Cluster

MAX_FILE_BYTES = 64 * 1024
ENDPOINT_FIELDS = (
    "url", "tls_ca", "tls_cert", "tls_key", "ssh_key", "ssh_known_hosts",
    "ssh_accept_new_host_key",
)  # fmt: skip
FILE_FIELDS = ("tls_ca", "tls_cert", "tls_key", "ssh_key", "ssh_known_hosts")
STORED_KEYS = {
    "tls_ca": "ca",
    "tls_cert": "cert",
    "tls_key": "key",
    "ssh_key": "ssh_key",
    "ssh_known_hosts": "ssh_known_hosts",
}


class TextFileField(forms.FileField):
    """An uploaded text file (PEM, OpenSSH key, known_hosts) cleaned to its text.

    The file input never shows a value, so the text is never rendered back.
    """

    widget = forms.FileInput

    @sensitive_variables()
    def clean(self, data, initial=None) -> str:
        upload = super().clean(data, initial)
        if not upload:
            return ""
        if upload.size > MAX_FILE_BYTES:
            raise ValidationError("This file is larger than 64 KiB: is it the right one?")
        try:
            return upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("This file is not text (PEM or OpenSSH format).") from None


class UserChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, user) -> str:
        return f"{user.get_username()} <{user.email}>"


class ClusterForm(forms.Form):
    """Add or edit a cluster. STORED names the credentials kept (no values) for the edit."""

    name = forms.CharField(max_length=64, help_text="Letters, digits, dot, dash, underscore.")
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(),
        empty_label=None,
        required=False,
        help_text="Its members see the cluster with their role in the team.",
    )
    environment = forms.ChoiceField(choices=Cluster.Environment.choices)
    url = forms.CharField(
        label="URL",
        max_length=255,
        help_text="unix:///var/run/docker.sock, tcp://manager.example.net:2376 (TLS) or "
        "ssh://user@manager.example.net",
    )
    tls_ca = TextFileField(label="CA certificate (PEM)", required=False)
    tls_cert = TextFileField(label="Client certificate (PEM)", required=False)
    tls_key = TextFileField(label="Client key (PEM)", required=False)
    ssh_key = TextFileField(label="SSH private key", required=False)
    ssh_known_hosts = TextFileField(label="known_hosts", required=False)
    ssh_accept_new_host_key = forms.BooleanField(
        label="Accept the host key it shows now (instead of known_hosts)", required=False
    )
    poll_interval = forms.IntegerField(
        label="Poll interval (seconds)", min_value=5, max_value=86400
    )
    enabled = forms.BooleanField(label="Enabled (polled)", required=False)
    drain_assist = forms.BooleanField(
        label="Drain assist (drain and re-activate nodes during reboots)", required=False
    )
    window_notices = forms.BooleanField(
        label="Start and end notices (tell recipients and channels when a window starts and "
        "ends, with the reboots seen)",
        required=False,
    )
    dns_server = forms.CharField(
        label="DNS server",
        max_length=255,
        required=False,
        help_text="For DNS probes; empty: the system resolver. e.g. 10.0.0.53:53",
    )
    ingress_addresses = forms.CharField(
        max_length=1024,
        required=False,
        help_text="IP addresses DNS names may point to besides the managers, comma separated.",
    )
    recipients = forms.CharField(
        label="Recipients (email addresses, one per line)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    recipient_users = UserChoiceField(
        label="Recipients (users)",
        queryset=get_user_model().objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    policy = forms.CharField(
        label="Readiness policy (JSON)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 14, "class": "mono", "spellcheck": "false"}),
        help_text="Thresholds the readiness rules use; missing keys take the defaults. "
        "Empty: leave as it is.",
    )

    def __init__(
        self,
        *args,
        stored: dict[str, bool] | None = None,
        policy: dict,
        teams,
        current_team=None,
        **kwargs,
    ):
        """TEAMS: the teams the cluster may be put in (those the user administers);
        CURRENT_TEAM: the edited cluster's team."""
        super().__init__(*args, **kwargs)
        self.current_policy = policy
        self.editing = stored is not None
        self.current_team = current_team
        self.fields["team"].queryset = teams
        self.fields["recipient_users"].queryset = (
            get_user_model()
            .objects.filter(is_active=True)
            .filter(Q(is_superuser=True) | Q(memberships__team__in=teams))
            .exclude(email="")
            .distinct()
            .order_by("username")
        )
        if not self.is_bound:
            self.initial.setdefault("policy", json.dumps(policy, indent=2))
        for name, key in STORED_KEYS.items():
            if stored is not None:  # editing: say what is kept, never what it is
                self.fields[name].help_text = (
                    "Stored: yes. Leave empty to keep it; choose a file to replace it."
                    if stored.get(key)
                    else "Stored: no."
                )
        if stored is not None and stored.get("unreadable"):
            self.fields[
                "url"
            ].help_text += " The stored credentials cannot be decrypted: upload them again."

    def clean_team(self):
        """The chosen team; none chosen: unchanged for an edit, for a new cluster the only
        team offered or else the default team if offered."""
        team = self.cleaned_data.get("team")
        if team is not None or self.editing:
            return team
        offered = list(self.fields["team"].queryset[:2])
        if len(offered) == 1:
            return offered[0]
        default = self.fields["team"].queryset.filter(name=DEFAULT_TEAM).first()
        if default is None:
            raise ValidationError("Choose the team that owns the cluster.")
        return default

    def clean(self):
        """Recipient users must be able to see the cluster: members of its team or global
        admins (a notification tells what is on the cluster)."""
        data = super().clean()
        team = data.get("team") or self.current_team
        users = data.get("recipient_users") or []
        outside = [
            user.get_username()
            for user in users
            if team is not None
            and not user.is_superuser
            and not user.memberships.filter(team=team).exists()
        ]
        if outside:
            self.add_error(
                "recipient_users",
                f"Not in team {team.name} (they could not see the cluster): {', '.join(outside)}.",
            )
        return data

    def clean_recipients(self) -> list[str]:
        text = self.cleaned_data.get("recipients", "")
        return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]

    def clean_policy(self) -> dict | None:
        """The policy to save, or None when empty or unchanged."""
        text = self.cleaned_data.get("policy", "").strip()
        if not text:
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"This is not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})."
            ) from None
        if not isinstance(data, dict):
            raise ValidationError('The policy is a JSON object: {"key": value, ...}.')
        return None if data == self.current_policy else data

    def endpoint_errors(self) -> list[str]:
        """The errors of the connection fields (what a test connection needs)."""
        return [f"{self[name].label}: {e}" for name in ENDPOINT_FIELDS for e in self[name].errors]

    def endpoint_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "url": data["url"],
            "tls": {"ca": data["tls_ca"], "cert": data["tls_cert"], "key": data["tls_key"]},
            "ssh_key": data["ssh_key"],
            "ssh_known_hosts": data["ssh_known_hosts"],
            "ssh_accept_new_host_key": data["ssh_accept_new_host_key"],
        }

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return self.endpoint_kwargs() | {
            "name": data["name"],
            "team": data["team"],
            "environment": data["environment"],
            "poll_interval": data["poll_interval"],
            "enabled": data["enabled"],
            "drain_assist": data["drain_assist"],
            "window_notices": data["window_notices"],
            "dns_server": data["dns_server"],
            "ingress_addresses": data["ingress_addresses"],
            "notify": data["recipients"],
            "notify_users": data["recipient_users"],
            "policy": data["policy"],
        }

    def add_input_error(self, exc: ClusterInputError) -> None:
        """Show a service's refusal at the field it names (or above the form)."""
        field = exc.field if exc.field in self.fields else None
        self.add_error(field, capfirst(str(exc)))

    def files_given(self) -> bool:
        return any(self.files.get(name) for name in FILE_FIELDS)
