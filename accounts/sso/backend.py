"""mozilla-django-oidc's backend with discovery, full ID token checks and sub matching.

The library checks the signature (JWKS) and nonce but not the audience nor the issuer
(`verify_aud: False`): get_payload_data below checks aud, azp, iss, exp and iat too.
"""

import logging

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.utils import timezone
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from . import discovery, services

log = logging.getLogger(__name__)
SIGN_ALGO = "RS256"
LEEWAY_SECONDS = 60


class WatchkeeperOIDCBackend(OIDCAuthenticationBackend):
    def __init__(self, *args, **kwargs):
        # No super().__init__: the endpoints come from discovery at sign-in, not settings.
        self.UserModel = get_user_model()
        self.config = settings.WATCHKEEPER_OIDC
        if self.config is not None:
            self.OIDC_RP_CLIENT_ID = self.config.client_id
            self.OIDC_RP_CLIENT_SECRET = self.config.client_secret
        self.OIDC_RP_SIGN_ALGO = SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None

    def authenticate(self, request, **kwargs):
        # Only the callback view passes a nonce: a password form never reaches the provider.
        if self.config is None or request is None or "nonce" not in kwargs:
            return None
        doc = discovery.document(self.config.issuer)
        self.OIDC_OP_TOKEN_ENDPOINT = doc["token_endpoint"]
        self.OIDC_OP_JWKS_ENDPOINT = doc["jwks_uri"]
        self.OIDC_OP_USER_ENDPOINT = doc.get("userinfo_endpoint")
        return super().authenticate(request, **kwargs)

    def get_payload_data(self, token, key):
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise SuspiciousOperation(f"ID token unreadable: {exc}") from exc
        if header.get("alg") != SIGN_ALGO:
            raise SuspiciousOperation(f"ID token signed with {header.get('alg')!r}, not RS256")
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=[SIGN_ALGO],
                audience=self.config.client_id,
                issuer=self.config.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "sub", "exp", "iat"]},
            )
        except jwt.InvalidTokenError as exc:
            raise SuspiciousOperation(f"ID token refused: {exc}") from exc
        audience = payload["aud"]
        if isinstance(audience, list) and len(audience) > 1:
            if payload.get("azp") != self.config.client_id:
                raise SuspiciousOperation("ID token for several audiences without our azp")
        return payload

    def get_or_create_user(self, access_token, id_token, payload):
        claims = dict(payload)
        if self.OIDC_OP_USER_ENDPOINT and access_token:
            info = self.get_userinfo(access_token, id_token, payload)
            if info.get("sub") != payload.get("sub"):
                raise SuspiciousOperation("userinfo answers for another sub than the ID token")
            claims.update(info)
        try:
            user = services.sign_in(
                issuer=self.config.issuer,
                claims=claims,
                groups_claim=self.config.groups_claim,
                rules=self.config.rules,
                now=timezone.now(),
            )
        except services.IdentityRefused as exc:
            raise SuspiciousOperation(str(exc)) from exc
        log.info("single sign-on: %s signed in (sub %s)", user.username, claims["sub"])
        return user
