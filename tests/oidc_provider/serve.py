"""`python -m tests.oidc_provider.serve`: migrate, create users and clients, serve on PORT.

Reads OIDC_PROVIDER_STATE (JSON: users with passwords and groups, clients with secrets and
redirect URIs) and OIDC_PROVIDER_PORT; prints "ready" once it listens (the tests wait for
that line, not a clock).
"""

import os


def main() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oidc_provider.settings"
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.core.servers.basehttp import (
        ThreadedWSGIServer,
        WSGIRequestHandler,
        get_internal_wsgi_application,
    )
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
    server = ThreadedWSGIServer(("127.0.0.1", PORT), WSGIRequestHandler)  # listens from here
    server.daemon_threads = True
    server.set_app(get_internal_wsgi_application())
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
