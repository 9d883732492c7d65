"""Server-rendered web pages: portal, inbox, designer, console (one blueprint per audience)."""


def register(app) -> None:
    """Register the web blueprints, login and translations on the app."""
