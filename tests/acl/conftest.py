"""A reference redis-server 7 on 127.0.0.1 (started once per module; stopped by PID)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from tests.reference_redis import reference_redis


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    """A client of a fresh redis-server, or the test is skipped when none is installed."""
    with reference_redis(tmp_path_factory.mktemp("redis")) as client:
        yield client
