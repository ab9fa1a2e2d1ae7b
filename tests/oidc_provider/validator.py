"""Claims from the state file: groups (changed by tests while the provider runs), a stable sub."""

from oauth2_provider.oauth2_validators import OAuth2Validator

from .settings import state


class GroupsValidator(OAuth2Validator):
    oidc_claim_scope = None  # every claim below, whatever the scopes

    def get_additional_claims(self, request):
        username = request.user.username
        person = state()["users"].get(username, {})
        return {
            "sub": f"sub-{username}",
            "preferred_username": username,
            "email": person.get("email", f"{username}@example.test"),
            "groups": person.get("groups", []),
        }

    def get_id_token_dictionary(self, token, token_handler, request):
        claims, expiration_time = super().get_id_token_dictionary(token, token_handler, request)
        audience = state().get("id_token_audience")  # a provider that names another client
        if audience:
            claims["aud"] = audience
        return claims, expiration_time
