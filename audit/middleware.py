"""Web requests: changes are attributed to the signed-in user, via=web."""

from audit import services as audit


class AuditActorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with audit.acting(audit.Actor(via="web", user=getattr(request, "user", None))):
            return self.get_response(request)
