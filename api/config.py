"""Every setting and its default. Environment variables FLOWDESK_<NAME> override them."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    "SECRET_KEY": None,  # required outside demo/testing: FLOWDESK_SECRET_KEY
    "DATABASE_URL": f"sqlite:///{ROOT / 'instance' / 'flowdesk.db'}",
    "REDIS_URL": "",  # empty: jobs run in an in-process worker thread
    "DISPATCHER": "auto",  # auto (rq if REDIS_URL else inline), inline, rq, record
    "QUEUE_NAME": "flowdesk",
    "PROCESSES_DIR": str(ROOT / "processes"),
    "TIMER_POLL_SECONDS": 1.0,
    "JOB_MAX_ATTEMPTS": 4,  # attempts before a step fails, unless the BPMN `retry` says otherwise
    "RETRY_BASE_SECONDS": 10.0,  # first retry after ~10 s, then x backoff base (default 2), ±20 %
    "RETRY_MAX_SECONDS": 3600.0,
    "JOB_LEASE_SECONDS": 300.0,  # a running job whose worker went silent this long runs again
    "JOB_STALE_SECONDS": 30.0,  # a queued job untouched this long is checked against the queue
    "POLLER_LEASE_SECONDS": 10.0,  # one process at a time fires timers and retries
    "FAULT_CRASH_BEFORE_ENQUEUE": False,  # tests only: exit between commit and enqueue
    "HTTP_TIMEOUT": 10,
    "SMTP_HOST": "",
    "SMTP_PORT": 25,
    "SMTP_USER": "",
    "SMTP_PASSWORD": "",
    "SMTP_STARTTLS": False,
    "MAIL_FROM": "FlowDesk <noreply@flowdesk.local>",
    "IM_WEBHOOKS": {},  # {"channel": "https://robot url"}; "default" catches the rest
    "MAX_CONTENT_LENGTH": 4 * 1024 * 1024,
    "ATTACHMENTS_DIR": "",  # empty: <instance folder>/attachments
    "ATTACHMENT_MAX_BYTES": 3 * 1024 * 1024,
    "ATTACHMENT_TYPES": [
        "application/pdf",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "text/plain",
        "text/csv",
        "application/zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ],
    "WEB_TIMEZONE": "Asia/Shanghai",  # how the web pages show times
    "BUSINESS_TIMEZONE": "Asia/Shanghai",  # which day "today" is for forms ("not before today")
    "SESSION_HOURS": 12,
    "PROXY_HOPS": 0,  # reverse proxies in front that set X-Forwarded-For/-Proto/-Host/-Port/-Prefix
    "SECURE_COOKIES": "auto",  # auto: Secure cookies unless DEMO or TESTING; true; false
    "HSTS_SECONDS": 31536000,  # Strict-Transport-Security on answers over HTTPS; 0: none
    "WORKER_HEALTH_ADDRESS": "",  # a worker's /health and /metrics: [HOST:]PORT[-PORT]; empty: none
    "SIGN_IN_LOCK_AFTER": 5,  # wrong passwords in a row that lock an account...
    "SIGN_IN_LOCK_MINUTES": 15,  # ...for this long
    "RATE_LIMIT_STORAGE": "",  # empty: Redis at REDIS_URL when set, else per process memory
    "SIGN_IN_RATE_LIMIT": "20 per minute",  # failed sign-ins per address
    "API_AUTH_RATE_LIMIT": "60 per minute",  # API calls with a wrong or missing token, per address
    "LDAP_URL": "",  # ldap://host:389 or ldaps://host:636; empty: no directory sign-in
    "LDAP_BIND_DN": "",  # the service account that looks people up; empty: anonymous
    "LDAP_BIND_PASSWORD": "",
    "LDAP_USER_BASE": "",  # e.g. ou=people,dc=example,dc=org
    "LDAP_USER_FILTER": "(uid={username})",  # Active Directory: (sAMAccountName={username})
    "LDAP_GROUP_BASE": "",  # e.g. ou=groups,dc=example,dc=org; empty: no group sync
    "LDAP_GROUP_FILTER": "(member={dn})",
    "LDAP_MANAGER_ATTRIBUTE": "manager",  # a DN: the person's manager in the org chart
    "LDAP_DEPARTMENT_ATTRIBUTE": "departmentNumber",  # AD: department
    "LDAP_TIMEOUT": 5,
    "DIRECTORY_GROUP_MAP": {},  # {"directory group cn or DN": {"groups": [...], "roles": [...]}}
    "OIDC_ISSUER": "",  # https://login.example.com/realms/corp; empty: no single sign-on
    "OIDC_CLIENT_ID": "",
    "OIDC_CLIENT_SECRET": "",  # from the environment: FLOWDESK_OIDC_CLIENT_SECRET
    "OIDC_SCOPES": "openid profile email",
    "OIDC_USERNAME_CLAIM": "preferred_username",
    "OIDC_GROUPS_CLAIM": "groups",
    "OIDC_DEPARTMENT_CLAIM": "department",  # and OIDC_GROUPS_CLAIM's names go through the map
    "DEMO": False,  # seeds demo users with well-known tokens; never in production
    "API_TITLE": "FlowDesk API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",  # /api/v1/docs, for signed-in users of the web
    "OPENAPI_SWAGGER_UI_URL": "/assets/vendor/swagger/",  # swagger-ui-dist from npm
}
