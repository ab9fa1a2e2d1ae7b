"""Single sign-on over OpenID Connect (mozilla-django-oidc), with groups mapped to roles.

Its own app (label `sso`) so that its model and migrations stay apart from accounts'.
"""
