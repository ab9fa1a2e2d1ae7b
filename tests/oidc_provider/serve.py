"""`python -m tests.oidc_provider.serve`: migrate, create users and clients, serve on PORT.

Reads OIDC_PROVIDER_STATE (JSON: users with passwords and groups, clients with secrets and
redirect URIs) and OIDC_PROVIDER_PORT; prints "ready" once it listens.
"""

import os
import sys


def main() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oidc_provider.settings"
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.core.servers.basehttp import WSGIServer, get_internal_wsgi_application, run
    from oauth2_provider.models import Application

    from .settings import PORT, state

    call_command("migrate", verbosity=0)
    data = state()
    for username, person in data["users"].items():
        User.objects.create_user(username=username, password=person["password"])
    for client_id, client in data["clients"].items():
        Application.objects.create(
            name=client_id,
            client_id=client_id,
            client_secret=client["secret"],
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=" ".join(client["redirect_uris"]),
            algorithm=Application.RS256_ALGORITHM,
            skip_authorization=True,
        )
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    print("ready", flush=True)
    sys.stdout.flush()
    run("127.0.0.1", PORT, get_internal_wsgi_application(), threading=True, server_cls=WSGIServer)


if __name__ == "__main__":
    main()
