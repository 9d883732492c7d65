"""Single sign-on with OpenID Connect (Authlib): the redirect out and the callback back in."""

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, abort, current_app, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user

from admin.web import LANGS, Account, add_error_pages, safe_next, sign_in_policy
from engine.identity import service as identity_service
from engine.identity import sync

blp = Blueprint("sso", __name__)
add_error_pages(blp)


def init_app(app) -> None:
    """Register the provider when OIDC_ISSUER is set (its discovery document is read lazily)."""
    config = app.config
    if not config["OIDC_ISSUER"]:
        return
    oauth = OAuth(app)  # one per app: tests build several, each with its own provider
    app.extensions["flowdesk_oauth"] = oauth
    oauth.register(
        "flowdesk",
        client_id=config["OIDC_CLIENT_ID"],
        client_secret=config["OIDC_CLIENT_SECRET"],
        server_metadata_url=config["OIDC_ISSUER"].rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": config["OIDC_SCOPES"], "timeout": 10},
    )


def _client():
    if not current_app.config["OIDC_ISSUER"]:
        abort(404)
    return current_app.extensions["flowdesk_oauth"].create_client("flowdesk")


@blp.get("/login/oidc")
def start():
    """Send the browser to the provider; it comes back to the callback with a code."""
    session["sso_next"] = safe_next(request.args.get("next"))
    return _client().authorize_redirect(url_for(".callback", _external=True))


@blp.get("/login/oidc/callback")
def callback():
    client = _client()
    try:
        token = client.authorize_access_token()  # checks state, the ID token's signature, nonce
    except OAuthError:
        flash(_("Single sign-on did not succeed. Try again."), "error")
        return redirect(url_for("web.login"))
    claims = dict(token.get("userinfo") or {})
    config = current_app.config
    person = sync.person_from_claims(
        claims, group_map=dict(config["DIRECTORY_GROUP_MAP"]),
        username_claim=config["OIDC_USERNAME_CLAIM"], groups_claim=config["OIDC_GROUPS_CLAIM"],
        department_claim=config["OIDC_DEPARTMENT_CLAIM"],
    )  # fmt: skip
    opened = identity_service.sign_in_external(
        person, source=request.remote_addr, policy=sign_in_policy(), method="oidc"
    )
    if opened is None:
        flash(_("Your account cannot sign in here. Ask an administrator."), "error")
        return redirect(url_for("web.login"))
    user, session_token = opened
    target = session.pop("sso_next", None)
    spoken = session.get("lang")
    session.clear()
    session.permanent = True
    if spoken in LANGS:
        session["lang"] = spoken
    login_user(Account(user, session_token))
    return redirect(target or url_for("portal.catalog"))
