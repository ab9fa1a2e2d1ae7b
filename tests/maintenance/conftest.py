import pytest

from clusters.models import Cluster, Recipient


@pytest.fixture
def cluster(db):
    return Cluster.objects.create(name="prod", url="unix:///nonexistent.sock")


@pytest.fixture
def recipients(cluster, operator):
    operator.email = "otto@example.org"
    operator.save()
    return [
        Recipient.objects.create(cluster=cluster, user=operator),
        Recipient.objects.create(cluster=cluster, email="ops@example.org"),
    ]


@pytest.fixture
def locmem(settings):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    from django.core import mail

    mail.outbox = []
    return mail.outbox


@pytest.fixture
def smtp(settings):
    """A real SMTP server on loopback that the mail settings point at."""
    from .smtpserver import SMTPServer

    with SMTPServer() as server:
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": server.port, "timeout": 10},
            }
        }
        yield server
