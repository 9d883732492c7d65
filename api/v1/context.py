"""What the API's views need from the request and the app: the caller, the dispatcher."""

from flask import current_app, g

from engine.identity.models import User


def current_user() -> User:
    return g.user


def current_token_id() -> int | None:
    """The API token this call came with (None in a signed-in browser reading the docs)."""
    return g.get("token_id")


def dispatcher():
    return current_app.extensions["flowdesk"].dispatch


def changes():
    """Who tells waiting readers that a request changed (workers.changes)."""
    return current_app.extensions["flowdesk"].changes


def operation_names() -> frozenset:
    return current_app.extensions["flowdesk"].operations
