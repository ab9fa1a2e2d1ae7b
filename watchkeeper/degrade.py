"""What Redis being down raises, for the code that degrades without it (docs/reliability.md).

The cache (Django's RedisCache, or the file cache without REDIS_URL) raises redis' errors or
OSError; publishing a task raises kombu's OperationalError (the broker unreachable), which
wraps the transport's own errors.
"""

from kombu.exceptions import OperationalError as BrokerUnavailable
from redis.exceptions import RedisError

CACHE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)
QUEUE_ERRORS: tuple[type[BaseException], ...] = (BrokerUnavailable, RedisError, OSError)
