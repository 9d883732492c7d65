"""`flask --app wsgi flowdesk ...`: serve, sync processes, seed demo data, users and tokens."""

import logging
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from werkzeug.security import generate_password_hash
from werkzeug.serving import run_simple

from api.auth import issue_token
from engine import versions
from engine.errors import PlatformError
from engine.models import Group, User, db
from engine.specs import parse_process

DEMO_PASSWORD = "demo"  # demo only, like the tokens
DEMO_GROUPS = {
    "hr": ("HR", "人力资源"),
    "managers": ("Managers", "部门经理"),
    "it_support": ("IT Support", "IT 支持"),
    "it_leads": ("IT Leads", "IT 负责人"),
    "it_north": ("IT North", "北区 IT"),
    "it_east": ("IT East", "东区 IT"),
    "it_south": ("IT South", "南区 IT"),
    "it_west": ("IT West", "西区 IT"),
    "store_ops": ("Store Ops", "门店运营"),
}
DEMO_USERS = [  # username, display name, roles, groups, locale
    ("requester", "Rita Requester", "requester", ["store_ops"], "en"),
    (
        "it_agent",
        "Ivan IT",
        "requester,agent",
        ["it_support", "it_north", "it_east", "it_south", "it_west"],
        "en",
    ),
    ("manager", "Mei Manager", "requester,approver", ["managers", "it_leads"], "zh"),
    ("hr", "Hannah HR", "requester", ["hr"], "en"),
    ("designer", "Dora Designer", "requester,designer", [], "en"),
    ("admin", "Adam Admin", "requester,admin", [], "en"),
]


@click.group("flowdesk", cls=AppGroup)
def group():
    """FlowDesk administration."""


@group.command("sync")
def sync():
    """Deploy the bundled processes/ whose content changed."""
    created = versions.sync_library(current_app.extensions["flowdesk"].library)
    for version in created:
        click.echo(f"deployed {version.process_key} v{version.version}")
    click.echo(f"{len(created)} new version(s)")


@group.command("seed-demo")
def seed_demo():
    """Create demo groups and users with well-known tokens `demo-<username>` (demo only)."""
    groups = {}
    for key, (name_en, name_zh) in DEMO_GROUPS.items():
        groups[key] = db.session.scalar(select(Group).filter_by(key=key)) or Group(
            key=key, name_en=name_en, name_zh=name_zh
        )
        db.session.add(groups[key])
    for username, display_name, roles, member_of, locale in DEMO_USERS:
        if db.session.scalar(select(User).filter_by(username=username)):
            continue
        user = User(
            username=username,
            display_name=display_name,
            roles=roles,
            locale=locale,
            email=f"{username}@example.com",
            groups=[groups[g] for g in member_of],
            password_hash=generate_password_hash(DEMO_PASSWORD),
        )
        db.session.add(user)
        db.session.flush()
        issue_token(user, name="demo", token=f"demo-{username}")
    db.session.commit()
    click.echo(
        "demo users: "
        + ", ".join(u[0] for u in DEMO_USERS)
        + f" (API token: demo-<username>, password: {DEMO_PASSWORD})"
    )


@group.command("create-user")
@click.argument("username")
@click.option("--name", "display_name", required=True)
@click.option("--roles", default="requester", show_default=True)
@click.option("--groups", "group_keys", default="", help="comma-separated group keys")
def create_user(username, display_name, roles, group_keys):
    """Create a user and print an API token for them."""
    if db.session.scalar(select(User).filter_by(username=username)):
        raise click.ClickException(f"user {username!r} exists")
    keys = [k for k in group_keys.split(",") if k]
    found = list(db.session.scalars(select(Group).where(Group.key.in_(keys))))
    if len(found) != len(keys):
        raise click.ClickException(f"unknown group(s): {set(keys) - {g.key for g in found}}")
    user = User(username=username, display_name=display_name, roles=roles, groups=found)
    db.session.add(user)
    db.session.flush()
    token = issue_token(user, name="cli")
    db.session.commit()
    click.echo(token)


@group.command("token")
@click.argument("username")
def token(username):
    """Issue a new API token for a user and print it once."""
    user = db.session.scalar(select(User).filter_by(username=username))
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    value = issue_token(user, name="cli")
    db.session.commit()
    click.echo(value)


@group.command("deploy")
@click.argument("key")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def deploy(key, files):
    """Validate and deploy BPMN files as a new version of KEY."""
    try:
        parsed = parse_process(key, {Path(f).name: Path(f).read_bytes() for f in files})
        current_app.extensions["flowdesk"].forms.check_process(parsed.form_keys())
        version, created = versions.publish(parsed, user_id=None)
    except PlatformError as exc:
        for problem in exc.extra.get("problems", []):
            click.echo(
                f"  {problem['file']}:{problem['line']} [{problem['id']}] {problem['message']}",
                err=True,
            )
        raise click.ClickException(exc.detail) from exc
    click.echo(f"{key} v{version.version} ({'new' if created else 'unchanged'})")


@group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host, port):
    """Serve the platform with the in-process worker (or RQ, when FLOWDESK_REDIS_URL is set)."""
    app = current_app._get_current_object()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    logging.getLogger("spiff").setLevel(logging.WARNING)  # one line per task state change
    versions.sync_library(app.extensions["flowdesk"].library)
    worker = app.extensions["flowdesk"].dispatch
    if hasattr(worker, "ensure_started"):
        worker.ensure_started()
    click.echo(f"FlowDesk on http://{host}:{port}/api/v1 (Ctrl-C stops)")
    run_simple(host, port, app, threaded=True, use_reloader=False)


def register(app) -> None:
    app.cli.add_command(group)
