"""The API's errors: JSON {"code": ..., "message": ...} with a stable code and an exact status.

| status | code                     | when                                                  |
|--------|--------------------------|-------------------------------------------------------|
| 401    | not_authenticated        | no session and no bearer token                        |
| 401    | token_invalid            | unknown or malformed bearer token, or its user is off |
| 401    | token_expired            | the token's expiry has passed                         |
| 401    | token_revoked            | the token was revoked                                 |
| 403    | csrf_failed              | a session request with an unsafe method and no CSRF   |
| 403    | role_required            | the user's role (or the token's scope) is too low     |
| 404    | not_found                | no such cluster, run or route                         |
| 404    | no_snapshot              | the cluster was never polled successfully             |
| 405    | method_not_allowed       | the route exists, the method does not                 |
| 409    | conflict                 | the request conflicts with the current state          |
| 409    | name_taken               | a cluster or window of that name already exists       |
| 409    | poll_running             | a poll of the cluster runs or waits (see poll_id)      |
| 409    | cluster_disabled         | a poll of a disabled cluster was asked for            |
| 409    | already_revoked          | the waiver was revoked before                         |
| 409    | already_cancelled        | the occurrence was cancelled before                   |
| 409    | started                  | the occurrence has started: it cannot be cancelled    |
| 409    | not_started / cancelled  | a reboot confirmed outside its started occurrence     |
| 409    | gone                     | the occurrence was replaced by a window change        |
| 422    | validation_error         | a parameter or body is invalid                        |
| 429    | rate_limited             | too many requests with one token (see Retry-After)    |
"""

from django.core.exceptions import ValidationError
from django.http import Http404
from ninja.errors import AuthenticationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError

from watchkeeper.conflicts import Conflict

CODES_BY_STATUS = {
    401: "not_authenticated",
    403: "role_required",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "validation_error",
    429: "rate_limited",
}


class ApiError(Exception):
    """An error the API answers with STATUS and {"code": CODE, "message": MESSAGE}."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict | None = None,
        extra: dict | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}


def invalid(exc: ValidationError) -> ApiError:
    """A service's ValidationError as the API's error: 409 with its code for a Conflict (the
    input clashes with the current state), else 422 with every message."""
    if isinstance(exc, Conflict):
        return ApiError(409, exc.code or "conflict", " ".join(exc.messages))
    if hasattr(exc, "error_dict"):
        message = "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
        )
    else:
        message = " ".join(exc.messages)
    return ApiError(422, "validation_error", message)


def _body(code: str, message: str, **extra) -> dict:
    return {"code": code, "message": message, **extra}


def install(api) -> None:
    """Register the handlers that turn every error into the JSON shape above."""

    @api.exception_handler(ApiError)
    def api_error(request, exc: ApiError):
        response = api.create_response(
            request, _body(exc.code, exc.message, **exc.extra), status=exc.status
        )
        for name, value in exc.headers.items():
            response[name] = value
        return response

    @api.exception_handler(AuthenticationError)
    def not_authenticated(request, exc):
        return api.create_response(
            request,
            _body(
                "not_authenticated",
                "Sign in, or send an API token as 'Authorization: Bearer <token>'.",
            ),
            status=401,
        )

    @api.exception_handler(NinjaValidationError)
    def invalid(request, exc: NinjaValidationError):
        problems = [
            {
                "loc": [str(part) for part in error.get("loc", ())],
                "message": str(error.get("msg", "")),
            }
            for error in exc.errors
        ]
        first = problems[0] if problems else {"loc": [], "message": "invalid request"}
        message = f"{'.'.join(first['loc'][1:] or first['loc'])}: {first['message']}"
        return api.create_response(
            request, _body("validation_error", message, errors=problems), status=422
        )

    @api.exception_handler(Throttled)
    def throttled(request, exc):
        return api.create_response(
            request, _body("rate_limited", "Too many requests with this token."), status=429
        )

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return api.create_response(
            request, _body("not_found", str(exc) or "Not found."), status=404
        )

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        status = exc.status_code
        code = "csrf_failed" if "CSRF" in str(exc) else CODES_BY_STATUS.get(status, "error")
        return api.create_response(request, _body(code, str(exc)), status=status)
