"""Checks a form field can declare (`"x-lookup": "<name>"`), run at submit against other systems.

A lookup takes the field's value and returns a FieldError or None. Deployment refuses a form that
names an unknown lookup, and the unit of work that takes the form's data runs them, so a taken
username is refused with a message beside the field instead of failing after an approval.
"""

from collections.abc import Callable

from engine.directory import reads as directory
from forms.messages import FieldError

Lookup = Callable[[object], FieldError | None]
LOOKUPS: dict[str, Lookup] = {
    "directory.username_free": directory.username_free,
}
