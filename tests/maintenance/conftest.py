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
