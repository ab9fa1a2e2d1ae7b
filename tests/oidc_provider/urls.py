import json

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import JsonResponse
from django.urls import include, path
from jwcrypto import jwk
from oauth2_provider.views import JwksInfoView

from .settings import state


def jwks(request):
    """The real JWKS, unless the state says to publish another key under the real kid."""
    if not state().get("jwks_lie"):
        return JwksInfoView.as_view()(request)
    real = jwk.JWK.from_pem(settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"].encode())
    other = jwk.JWK.from_pem(settings.OTHER_RSA_PRIVATE_KEY.encode())
    data = json.loads(other.export_public())
    data.update({"alg": "RS256", "use": "sig", "kid": real.thumbprint()})
    return JsonResponse({"keys": [data]})


urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("o/.well-known/jwks.json", jwks),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
]
