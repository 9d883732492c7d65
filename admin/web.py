"""Web plumbing: login, CSRF, languages, security headers, error pages, assets; sign-in pages."""

import hashlib
import logging
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    session,
    url_for,
)
from flask_babel import Babel, format_datetime, format_timedelta, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from flask_wtf.csrf import CSRFError, CSRFProtect
from jinja2 import BytecodeCache
from werkzeug.exceptions import HTTPException
from werkzeug.routing import PathConverter

from admin import formview
from engine.audit.service import Actor
from engine.db import utcnow
from engine.errors import Forbidden, PlatformError, Unavailable, status_of
from engine.identity import reads as identity
from engine.identity import roles
from engine.identity import service as identity_service
from engine.identity.ldap import DirectorySettings
from engine.identity.models import User
from engine.instances import reads as requests

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE.parent / "node_modules"
LANGS = {"en": "English", "zh": "简体中文"}
HTML_LANG = {"en": "en", "zh": "zh-CN"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
VENDOR_FILES = {  # the only files served out of node_modules
    "bpmn-viewer.js": "bpmn-js/dist/bpmn-navigated-viewer.production.min.js",
    "diagram-js.css": "bpmn-js/dist/assets/diagram-js.css",
    "bpmn-js.css": "bpmn-js/dist/assets/bpmn-js.css",
    "swagger/swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
    "swagger/swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    "swagger/swagger-ui-standalone-preset.js": "swagger-ui-dist/swagger-ui-standalone-preset.js",
}


blp = Blueprint(
    "web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets"
)
fallback = Blueprint("web_fallback", __name__)
login_manager = LoginManager()
login_manager.login_view = "web.login"
login_manager.login_message = _l("Please sign in to continue.")
login_manager.login_message_category = "info"
csrf = CSRFProtect()
babel = Babel()


class _MemoryBytecodeCache(BytecodeCache):
    """Compiled templates shared by every app in the process (workers and tests build several)."""

    def __init__(self):
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


_TEMPLATE_CACHE = _MemoryBytecodeCache()


class Account(UserMixin):
    """The signed-in person as Flask-Login sees it: the engine's User and the session's token."""

    def __init__(self, user: User, token: str):
        self.user, self.id, self.token = user, user.id, token

    @property
    def is_active(self) -> bool:
        return bool(self.user.is_active)

    def get_id(self) -> str:
        return self.token  # the cookie names a server-side session, ended by signing out


@login_manager.user_loader
def _load_account(token: str):
    user = identity.session_user(token)
    return Account(user, token) if user is not None else None


def sign_in_policy() -> identity_service.SignInPolicy:
    config = current_app.config
    return identity_service.SignInPolicy(
        session_hours=float(config["SESSION_HOURS"]),
        lock_after=int(config["SIGN_IN_LOCK_AFTER"]),
        lock_minutes=float(config["SIGN_IN_LOCK_MINUTES"]),
    )


def directory_settings() -> DirectorySettings | None:
    """The LDAP / Active Directory to sign people in with, when LDAP_URL is set."""
    config = current_app.config
    if not config["LDAP_URL"]:
        return None
    return DirectorySettings(
        url=config["LDAP_URL"], user_base=config["LDAP_USER_BASE"],
        user_filter=config["LDAP_USER_FILTER"], bind_dn=config["LDAP_BIND_DN"],
        bind_password=config["LDAP_BIND_PASSWORD"], group_base=config["LDAP_GROUP_BASE"],
        group_filter=config["LDAP_GROUP_FILTER"], group_map=dict(config["DIRECTORY_GROUP_MAP"]),
        manager_attribute=config["LDAP_MANAGER_ATTRIBUTE"],
        department_attribute=config["LDAP_DEPARTMENT_ATTRIBUTE"],
        timeout=int(config["LDAP_TIMEOUT"]),
    )  # fmt: skip


def me() -> User:
    """The signed-in user's engine row (views run behind login_required)."""
    return current_user.user


def actor() -> Actor:
    """The signed-in user and their address, for the audit trail."""
    return Actor(me().id, me().username, request.remote_addr)


def requires(capability: roles.Capability):
    """Refuse (403) users none of whose roles allows the capability."""

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if not roles.can(me(), capability):
                raise Forbidden(f"this page needs a role that allows {capability}")
            return view(*args, **kwargs)

        return wrapper

    return decorate


def select_locale() -> str:
    if current_user.is_authenticated and current_user.user.locale in LANGS:
        return current_user.user.locale
    if session.get("lang") in LANGS:
        return session["lang"]
    return request.accept_languages.best_match(list(LANGS)) or "en"


def lang() -> str:
    """'zh' or 'en': the language of the current page."""
    return "zh" if str(get_locale() or "en").startswith("zh") else "en"


def pick(texts, fallback: str = "") -> str:
    """Choose the current language from a {"en": ..., "zh": ...} mapping."""
    if isinstance(texts, dict):
        return texts.get(lang()) or texts.get("en") or texts.get("zh") or fallback
    return texts or fallback


def init_app(app) -> None:
    secure = _secure_cookies(app.config)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=int(app.config["SESSION_HOURS"]) * 3600,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked below for every path outside /api/
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
    )
    app.jinja_env.autoescape = True
    app.jinja_env.bytecode_cache = _TEMPLATE_CACHE
    app.url_map.converters["webpath"] = WebPathConverter
    login_manager.init_app(app)
    csrf.init_app(app)
    babel.init_app(
        app,
        default_translation_directories=str(HERE / "translations"),
        default_timezone=app.config["WEB_TIMEZONE"],
        locale_selector=select_locale,
    )
    app.before_request(_check_csrf)
    app.after_request(_web_headers)
    app.register_error_handler(CSRFError, _csrf_error)
    app.context_processor(_template_globals)
    app.jinja_env.filters.update(
        when=_when,
        instant=_instant,
        day=_day,
        due=_due,
        filesize=_filesize,
        ago=_ago,
        pick=pick,
        ltitle=lambda instance: instance.title_in(lang()),
        local_datetime=formview.local_datetime,
    )
    app.jinja_env.globals.update(summary=formview.summary)
    app.extensions["flowdesk_web"] = {"assets": _asset_versions()}


def _secure_cookies(config) -> bool:
    """SECURE_COOKIES: true, false, or auto (Secure unless in demo, testing or debug mode)."""
    value = config.get("SECURE_COOKIES", "auto")
    if isinstance(value, str) and value.strip().lower() == "auto":
        return not (config.get("DEMO") or config.get("TESTING") or config.get("DEBUG"))
    if isinstance(value, str):
        if value.strip().lower() not in ("1", "true", "yes", "0", "false", "no"):
            raise ValueError(f"FLOWDESK_SECURE_COOKIES must be auto, true or false, not {value!r}")
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _check_csrf():
    """CSRF on every state-changing request outside /api/ (the API uses bearer tokens)."""
    if not request.path.startswith("/api/"):
        csrf.protect()


def _web_headers(response):
    if request.path.startswith("/api/"):
        return response
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.endpoint in ("web.static", "web.vendor") and request.args.get("v"):
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.vary.add("Cookie")
    return response


def _asset_versions() -> dict[str, str]:
    versions = {}
    for path in (HERE / "static").rglob("*"):
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
            versions[path.relative_to(HERE / "static").as_posix()] = digest
    return versions


def asset(filename: str) -> str:
    """URL of a static file with a content-hash query, so it may be cached for a year."""
    versions = current_app.extensions["flowdesk_web"]["assets"]
    return url_for("web.static", filename=filename, v=versions.get(filename, "0"))


def _template_globals() -> dict:
    user = current_user.user if current_user.is_authenticated else None
    nav = _nav(user) if user else []
    has_inbox = any(key == "inbox" for _endpoint, _label, key in nav)
    return {
        "me": user,
        "lang": lang(),
        "html_lang": HTML_LANG[lang()],
        "langs": LANGS,
        "asset": asset,
        "nav": nav,
        "inbox_count": _inbox_count(user) if has_inbox else 0,
        "can": (lambda capability: roles.can(user, capability)) if user else (lambda _c: False),
    }


def _inbox_count(user: User) -> int:
    counts = inbox_counts(user)
    return counts["mine"] + counts["groups"]


def inbox_counts(user: User) -> dict[str, int]:
    """The inbox counts, counted once per request (the menu and the inbox page both show them)."""
    if "inbox_counts" not in g:
        g.inbox_counts = requests.inbox_counts(user)
    return g.inbox_counts


def _nav(user: User) -> list[tuple[str, str, str]]:
    items = [
        ("portal.catalog", _("Services"), "portal"),
        ("portal.my_requests", _("My requests"), "requests"),
    ]
    if roles.has_inbox(user):
        items.append(("inbox.index", _("Inbox"), "inbox"))
    if roles.handles_failed_steps(user):
        items.append(("console.failed", _("Failed steps"), "console"))
    if roles.administers(user):
        items.append(("administration.users", _("Administration"), "admin"))
    return items


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _when(value: datetime | None) -> str:
    return format_datetime(_utc(value), "yyyy-MM-dd HH:mm") if value else ""


def _instant(value: datetime | None) -> str:
    """To the second, with the UTC offset: for the audit log, where the exact moment matters."""
    return format_datetime(_utc(value), "yyyy-MM-dd HH:mm:ss xxx") if value else ""


def _day(value: datetime | None) -> str:
    return format_datetime(_utc(value), "yyyy-MM-dd") if value else ""


def _ago(value: datetime | None) -> str:
    if not value:
        return ""
    return format_timedelta(value - utcnow(), add_direction=True, threshold=1.1)


def _due(value: datetime | None) -> dict | None:
    """Due-date presentation: text, and a state for colour (overdue, soon, later)."""
    if not value:
        return None
    left = value - utcnow()
    hours = left.total_seconds() / 3600
    state = "overdue" if hours < 0 else "soon" if hours < 24 else "later"
    relative = format_timedelta(left, add_direction=True, threshold=1.1)
    if state == "overdue":
        text = _("Overdue (%(when)s)", when=relative)
    else:
        text = _("Due %(when)s", when=relative)
    return {"text": text, "state": state, "at": _when(value)}


def _filesize(size: int | None) -> str:
    size = size or 0
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


# --- HTML error pages ------------------------------------------------------------------------

ERROR_TEXT = {
    400: (_l("Bad request"), _l("The request could not be understood.")),
    403: (_l("Not allowed"), _l("You do not have access to this page.")),
    404: (_l("Not found"), _l("This page does not exist, or you cannot see it.")),
    405: (_l("Not allowed"), _l("This action is not available here.")),
    409: (_l("Already changed"), _l("Someone changed this in the meantime. Reload and try again.")),
    413: (_l("Too large"), _l("The upload is too large.")),
    429: (_l("Too many attempts"), _l("Wait a minute, then try again.")),
    422: (_l("Cannot do that"), _l("The input was not accepted.")),
    500: (_l("Something went wrong"), _l("The error has been logged. Please try again later.")),
    503: (_l("Something went wrong"), _l("The error has been logged. Please try again later.")),
}


def error_page(status: int, detail: str | None = None):
    title, text = ERROR_TEXT.get(status, ERROR_TEXT[500])
    return render_template("error.html", status=status, title=title, text=text, detail=detail), (
        status
    )


def _platform_error(exc: PlatformError):
    status = status_of(exc)
    if status >= 500:
        log.error("platform error on %s: %s", request.path, exc.detail)
    return error_page(status)


def _http_error(exc: HTTPException):
    return error_page(exc.code or 500)


def _unexpected(exc: Exception):
    log.exception("unhandled error on %s", request.path)
    return error_page(500)


def _csrf_error(exc: CSRFError):
    title = _("This form has expired")
    text = _(
        "For your security the form could not be sent. Go back, reload the page and try again."
    )
    return render_template("error.html", status=400, title=title, text=text), 400


def add_error_pages(blueprint: Blueprint) -> None:
    blueprint.register_error_handler(PlatformError, _platform_error)
    blueprint.register_error_handler(HTTPException, _http_error)
    blueprint.register_error_handler(Exception, _unexpected)


class WebPathConverter(PathConverter):
    """Any path that is not under /api/ (those keep their JSON 404)."""

    regex = r"(?!api(?:/|$))[^/].*?"


add_error_pages(blp)


@fallback.route("/<webpath:path>")
def not_found(path):
    return error_page(404)


# --- sign in, sign out, language -------------------------------------------------------------


@blp.get("/")
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("web.login"))
    return redirect(url_for("portal.catalog"))


@blp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    username = request.form.get("username", "").strip()
    if request.method == "POST":
        try:
            opened = identity_service.sign_in(
                username,
                request.form.get("password", ""),
                source=request.remote_addr,
                policy=sign_in_policy(),
                directory=directory_settings(),
            )
        except Unavailable:
            log.warning("sign-in: the directory cannot be reached")
            opened, error = None, _("The directory cannot be reached. Try again in a minute.")
        if opened is not None:
            user, token = opened
            chosen = session.get("lang") if session.get("lang_chosen") else None
            session.clear()
            session.permanent = True
            login_user(Account(user, token))
            if chosen in LANGS and chosen != user.locale:  # picked on the sign-in page: it wins
                identity_service.set_locale(user.id, chosen)
            return redirect(safe_next(request.args.get("next")) or url_for("portal.catalog"))
        error = error or _("Wrong username or password.")
    elif current_user.is_authenticated:
        return redirect(url_for("portal.catalog"))
    return render_template("login.html", error=error, username=username), 401 if error else 200


@blp.post("/logout")
def logout():
    spoken = lang()
    if current_user.is_authenticated:
        identity_service.sign_out(current_user.token, source=request.remote_addr)
    logout_user()
    session.clear()
    session["lang"] = spoken  # the sign-in page that follows speaks the same language
    flash(_("You have signed out."), "info")
    return redirect(url_for("web.login"))


@blp.post("/language")
def language():
    """Switch the language; remembered on the user (User.locale) and in the session."""
    choice = request.form.get("lang", "")
    if choice not in LANGS:
        abort(400)
    session["lang"] = choice
    if not current_user.is_authenticated:
        session["lang_chosen"] = True  # kept for the user at sign-in
    elif current_user.user.locale != choice:
        identity_service.set_locale(current_user.user.id, choice)
    return redirect(safe_next(request.form.get("next")) or url_for("web.home"))


def safe_next(target: str | None) -> str | None:
    """Accept only local paths as redirect targets."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@blp.get("/assets/vendor/<path:name>")
@login_required
def vendor(name):
    """Serve the bpmn-js viewer from node_modules (installed by `npm ci`)."""
    relative = VENDOR_FILES.get(name)
    if relative is None or not (NODE_MODULES / relative).is_file():
        abort(404)
    path = NODE_MODULES / relative
    return send_from_directory(path.parent, path.name, max_age=0)


def vendor_available() -> bool:
    return (NODE_MODULES / VENDOR_FILES["bpmn-viewer.js"]).is_file()
