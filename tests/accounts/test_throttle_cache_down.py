"""Sign-in works when the cache (Redis) is down: throttling fails open with a warning."""

from unittest import mock

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from accounts import throttle


def _broken_cache():
    broken = mock.Mock()
    for name in ("get_many", "add", "incr", "set", "delete"):
        getattr(broken, name).side_effect = RedisConnectionError("Connection refused")
    return broken


def test_it_treats_nobody_as_locked_when_the_cache_is_down(caplog):
    with mock.patch.object(throttle, "cache", _broken_cache()):
        assert throttle.is_locked(username="vera", address="127.0.0.1") is False
        throttle.record_failure(username="vera", address="127.0.0.1")
        throttle.record_success(username="vera", address="127.0.0.1")
    assert "cache is unavailable" in caplog.text


@pytest.mark.django_db
def test_it_signs_in_when_the_cache_is_down(client, viewer):
    with mock.patch.object(throttle, "cache", _broken_cache()):
        response = client.post("/accounts/login/", {"username": "vera", "password": "pw-vera"})
    assert response.status_code == 302
