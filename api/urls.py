"""/api/v1/ (the API does its own authentication: 401 JSON, never a redirect to the login
page) and /metrics (a bearer token or an allowed address)."""

from django.contrib.auth.decorators import login_not_required
from django.urls import URLPattern, path

from . import cluster_writes, maintenance_writes, metrics, views
from .app import api

OPERATIONS = (views, cluster_writes, maintenance_writes)  # registered on `api` when imported

SIGN_IN_PAGES = {"openapi-json", "openapi-view"}  # the schema and its docs page: a session


def _own_auth(patterns):
    """Mark the API's operations as doing their own authentication (LoginRequiredMiddleware
    would otherwise redirect a token request to the login page)."""
    for pattern in patterns:
        if isinstance(pattern, URLPattern) and pattern.name not in SIGN_IN_PAGES:
            pattern.callback.login_required = False
    return patterns


api_patterns, api_app, api_namespace = api.urls
urlpatterns = [
    path("api/v1/", (_own_auth(api_patterns), api_app, api_namespace)),
    path("metrics", login_not_required(metrics.view), name="metrics"),
]
