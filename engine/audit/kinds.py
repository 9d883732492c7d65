"""What an audit event records."""

from enum import StrEnum


class AuditKind(StrEnum):
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_OUT = "sign_out"
    DOWNLOAD = "download"
    TOKEN_USED = "token_used"
    TOKEN_CREATED = "token_created"
    TOKEN_REVOKED = "token_revoked"
    USER_CREATED = "user_created"
    USER_CHANGED = "user_changed"
    USER_DEACTIVATED = "user_deactivated"
    PASSWORD_SET = "password_set"
    GROUP_CREATED = "group_created"
    GROUP_CHANGED = "group_changed"
    ROLE_CREATED = "role_created"
    ROLE_CHANGED = "role_changed"
    ROLE_DELETED = "role_deleted"
    REQUEST_CHANGED = "request_changed"
