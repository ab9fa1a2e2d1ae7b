"""Cluster registration with its readiness policy: clusters.registration saves the cluster,
readiness.services the policy, in one transaction (the settings page and `cluster add`)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from clusters import registration
from clusters.endpoint import ClusterInputError
from clusters.models import Cluster
from readiness import services as readiness_services


def _policy_saver(*, policy: dict | None, by):
    """The on_saved hook that hands POLICY (None: unchanged) to readiness, which validates it."""
    if policy is None:
        return None

    def save(cluster: Cluster) -> None:
        try:
            readiness_services.policy_update(
                cluster=cluster, data=policy, by=by, now=timezone.now()
            )
        except ValidationError as exc:
            detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise ClusterInputError(
                f"the readiness policy is invalid: {detail}.", "policy"
            ) from None

    return save


@sensitive_variables()
def cluster_add(*, policy: dict | None = None, by=None, **settings) -> Cluster:
    """clusters.registration.cluster_add, and POLICY (readiness overrides; needs BY, an admin)."""
    return registration.cluster_add(on_saved=_policy_saver(policy=policy, by=by), **settings)


@sensitive_variables()
def cluster_update(*, policy: dict | None = None, by=None, **settings) -> Cluster:
    """clusters.registration.cluster_update, and POLICY (None: unchanged; needs BY, an admin)."""
    return registration.cluster_update(on_saved=_policy_saver(policy=policy, by=by), **settings)
