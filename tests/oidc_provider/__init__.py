"""A tiny, real OpenID provider for the single sign-on tests (django-oauth-toolkit).

Run as its own process by fixtures.oidc_provider: its own settings, SQLite in a temporary
folder, an RSA key made at start. What the tests change while it runs (a user's groups, an
audience or JWKS that lies) is read from a JSON state file at each request.
"""
