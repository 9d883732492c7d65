"""Server-rendered web pages: portal, inbox, console, administration (one blueprint per audience).

`register(app)` sets up session login, CSRF protection, translations, security headers and the
HTML error pages, then registers the blueprints. Nothing here touches /api/.
"""

from admin import console, inbox, people, portal, sso, web


def register(app) -> None:
    """Register the web blueprints, login and translations on the app."""
    web.init_app(app)
    sso.init_app(app)
    for blueprint in (web.blp, sso.blp, portal.blp, inbox.blp, console.blp, people.blp):
        app.register_blueprint(blueprint)
    app.register_blueprint(web.fallback)
