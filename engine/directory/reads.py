"""Questions the directory answers: is a username free?"""

from sqlalchemy import select

from engine.db import db
from engine.directory.models import DirectoryAccount
from forms.messages import FieldError

USERNAME_TAKEN = ("This username is already taken in the directory.", "该用户名在目录中已被占用。")


def username_taken(username: str) -> bool:
    return (
        db.session.scalar(select(DirectoryAccount.id).filter_by(username=str(username)).limit(1))
        is not None
    )


def username_free(value) -> FieldError | None:
    """The `directory.username_free` lookup: a message when the username is taken."""
    if isinstance(value, str) and username_taken(value):
        return FieldError("username_taken", texts=USERNAME_TAKEN)
    return None
