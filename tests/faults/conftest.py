"""Fault tier: the platform's real processes (gunicorn, `python -m workers`, redis-server, SQLite or
PostgreSQL) killed, cut off and restarted while work is under way.

Run by `make test` on SQLite, and again with FLOWDESK_TEST_DB=postgresql on PostgreSQL. The
fixtures and helpers are tests/stack.py's (shared with the integration tier) and support.py's.
"""

from tests.faults.support import own_redis, remote, stack_on_own_redis  # noqa: F401 - fixtures
from tests.stack import (  # noqa: F401 - fixtures of this tier
    database_url,
    local_service,
    pytest_runtest_makereport,
    redis_server,
    redis_url,
    stack,
    template_db,
)
