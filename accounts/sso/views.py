"""The two ends of the sign-in redirect, with discovery and friendly failures."""

import logging

import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from django.shortcuts import redirect
from django.utils.decorators import method_decorator
from mozilla_django_oidc import views as oidc_views

from . import discovery

log = logging.getLogger(__name__)


def _config():
    config = settings.WATCHKEEPER_OIDC
    if config is None:
        raise Http404("Single sign-on is not configured.")
    return config


def _failed(request, reason: str):
    log.warning("single sign-on failed: %s", reason)
    config = settings.WATCHKEEPER_OIDC
    messages.error(
        request, f"Sign-in with {config.provider_name} failed. Try again or ask an admin."
    )
    return redirect(settings.LOGIN_URL)


@method_decorator(login_not_required, name="dispatch")
class SignInStart(oidc_views.OIDCAuthenticationRequestView):
    def __init__(self, *args, **kwargs):
        super(oidc_views.OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)

    def get(self, request):
        config = _config()
        try:
            doc = discovery.document(config.issuer)
        except discovery.DiscoveryError as exc:
            return _failed(request, str(exc))
        self.OIDC_OP_AUTH_ENDPOINT = doc["authorization_endpoint"]
        self.OIDC_RP_CLIENT_ID = config.client_id
        return super().get(request)


@method_decorator(login_not_required, name="dispatch")
class SignInCallback(oidc_views.OIDCAuthenticationCallbackView):
    def get(self, request):
        _config()
        try:
            return super().get(request)
        except (SuspiciousOperation, requests.RequestException, discovery.DiscoveryError) as exc:
            return _failed(request, str(exc))

    def login_failure(self):
        return _failed(self.request, "the provider or the user was refused")
