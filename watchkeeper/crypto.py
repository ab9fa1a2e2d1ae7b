"""Secrets at rest: MultiFernet over WATCHKEEPER_ENCRYPTION_KEYS (first encrypts, all decrypt)."""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with any configured key."""


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.WATCHKEEPER_ENCRYPTION_KEYS])


def encrypt(plaintext: str) -> str:
    """Encrypt text with the current (first) key."""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt text encrypted with any configured key."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted: is its key still in WATCHKEEPER_ENCRYPTION_KEYS?"
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt a token with the current key (after adding a new first key)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("A stored secret cannot be decrypted for rotation.") from None
