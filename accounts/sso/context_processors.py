"""Template context: whether password sign-in exists (hides password links when it does not)."""

from django.conf import settings


def sign_in(request):
    return {"local_login": settings.WATCHKEEPER_LOCAL_LOGIN}
