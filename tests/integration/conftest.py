"""Integration tier: a real redis-server, real `python -m workers` processes, and the web side
served (gunicorn) or in-process; SQLite, or PostgreSQL with FLOWDESK_TEST_DB=postgresql.

The fixtures and helpers live in tests/stack.py, shared with the fault tier.
"""

from tests.stack import (  # noqa: F401 - fixtures of this tier
    database_url,
    free_redis_url,
    local_service,
    pytest_runtest_makereport,
    redis_server,
    redis_url,
    stack,
    template_db,
)
