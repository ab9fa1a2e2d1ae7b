"""Conflict: a ValidationError for input that is valid in itself but clashes with the current
state (a name already taken, an occurrence already started or cancelled). The pages and the
command line show it as any other ValidationError; the API answers it with 409, not 422."""

from django.core.exceptions import ValidationError


class Conflict(ValidationError):
    """Valid input that the current state refuses (API: 409 with CODE)."""

    def __init__(self, message: str, *, code: str = "conflict"):
        super().__init__(message, code=code)
