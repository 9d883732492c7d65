"""`flask --app wsgi flowdesk ...`: serve, sync and deploy offerings, seed demo data, users, tokens.

Each command parses its arguments and calls one domain function; a PlatformError becomes a
one-line message (and the problems of a refused bundle, one per line) with exit status 1.
"""

import functools
import logging
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from werkzeug.serving import run_simple

from api import demo as demo_requests
from engine.audit import reads as audit_reads
from engine.audit import service as audit_service
from engine.audit.service import CLI
from engine.catalog import service as catalog
from engine.catalog.bundles import read_folder
from engine.errors import PlatformError
from engine.identity import demo
from engine.identity import service as identity
from engine.identity.roles import Capability
from workers.jobs import execute_job


@click.group("flowdesk", cls=AppGroup)
def group():
    """FlowDesk administration."""
    audit_service.set_source("cli")


def _refusals(command):
    """Turn a PlatformError into a clear CLI error listing its problems (the CLI's guard)."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except PlatformError as exc:
            for problem in exc.extra.get("problems", []):
                where = ":".join(str(p) for p in (problem["file"], problem["line"]) if p)
                click.echo(
                    f"  {where or '-'} [{problem['id'] or '-'}] {problem['message']}", err=True
                )
            for name, messages in (exc.extra.get("errors") or {}).items():
                click.echo(f"  {name}: {' '.join(messages)}", err=True)
            raise click.ClickException(exc.detail) from exc

    return run


@group.command("sync")
@_refusals
def sync():
    """Deploy the bundled processes/ whose content changed."""
    flowdesk = current_app.extensions["flowdesk"]
    created = catalog.sync_library(flowdesk.library, operations=flowdesk.operations)
    for version in created:
        click.echo(f"deployed {version.process_key} v{version.version}")
    click.echo(f"{len(created)} new version(s)")


@group.command("seed-demo")
@click.option(
    "--requests/--no-requests",
    "with_requests",
    default=True,
    show_default=True,
    help="also create demo requests (only into a database without any)",
)
def seed_demo(with_requests):
    """Demo groups, users with well-known tokens `demo-<username>`, and requests (demo only)."""
    if not (current_app.config["DEMO"] or current_app.config["TESTING"]):
        raise click.ClickException(
            "seed-demo creates users with well-known passwords and tokens: it runs only in demo "
            "mode (FLOWDESK_DEMO=1). Create real accounts with create-admin, create-group and "
            "create-user."
        )
    identity.seed_demo()
    requests = []
    if with_requests:
        flowdesk = current_app.extensions["flowdesk"]
        catalog.sync_library(flowdesk.library, operations=flowdesk.operations)
        config = current_app.config
        requests = demo_requests.seed_requests(
            lambda job_id, dispatch: execute_job(job_id, config=config, dispatch=dispatch)
        )
    click.echo(
        "demo users: "
        + ", ".join(u[0] for u in demo.USERS)
        + f" (API token: demo-<username>, password: {demo.PASSWORD})"
    )
    if requests:
        click.echo(f"demo requests: {len(requests)} (#{requests[0]}-#{requests[-1]})")


def _new_password(prompt: str) -> str:
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True)


@group.command("create-user")
@click.argument("username")
@click.option("--name", "display_name", required=True)
@click.option("--roles", default="requester", show_default=True)
@click.option("--groups", "group_keys", default="", help="comma-separated group keys")
@click.option(
    "--password/--no-password",
    "with_password",
    default=False,
    help="ask for a password (typed twice, not echoed) to sign in to the web",
)
@_refusals
def create_user(username, display_name, roles, group_keys, with_password):
    """Create a user and print an API token for them."""
    keys = [k.strip() for k in group_keys.split(",") if k.strip()]
    password = _new_password("Password") if with_password else None
    token = identity.create_user(
        username, display_name, roles=roles, group_keys=keys, password=password, actor=CLI
    )
    click.echo(token)


@group.command("create-admin")
@click.argument("username")
@click.option("--name", "display_name", required=True)
@_refusals
def create_admin(username, display_name):
    """Create an administrator with a password (asked for twice) and print an API token."""
    password = _new_password("Password")
    token = identity.create_user(
        username, display_name, roles="requester,admin", group_keys=[], password=password,
        actor=CLI,
    )  # fmt: skip
    click.echo(token)


@group.command("create-group")
@click.argument("key")
@click.option("--name", "name_en", required=True, help="the name in English")
@click.option("--name-zh", default="", help="the name in Chinese (default: the English one)")
@_refusals
def create_group(key, name_en, name_zh):
    """Create a group whose members share an inbox (a BPMN lane names it)."""
    identity.create_group(key, name_en, name_zh, actor=CLI)
    click.echo(f"group {key}")


@group.command("create-role")
@click.argument("key")
@click.option("--name", "name_en", required=True, help="the name in English")
@click.option("--name-zh", default="", help="the name in Chinese (default: the English one)")
@click.option("--allows", default="", help="comma-separated capabilities: "
              + ", ".join(c.value for c in Capability))  # fmt: skip
@_refusals
def create_role(key, name_en, name_zh, allows):
    """Create a role: a named set of capabilities that users can then hold."""
    capabilities = [c.strip() for c in allows.split(",") if c.strip()]
    identity.create_role(key, name_en, name_zh, capabilities, actor=CLI)
    click.echo(f"role {key}")


@group.command("set-password")
@click.argument("username")
@_refusals
def set_password(username):
    """Set or reset a user's password (asked for twice); their web sessions end."""
    identity.set_password(username, _new_password("New password"), actor=CLI)
    click.echo(f"password of {username} set")


@group.command("set-memberships")
@click.argument("username")
@click.option("--roles", default="requester", show_default=True, help="comma-separated")
@click.option("--groups", "group_keys", default="", help="comma-separated group keys")
@_refusals
def set_memberships(username, roles, group_keys):
    """Give a user exactly these roles and groups (what is not named is taken away)."""
    identity.set_memberships(
        username, roles=[r.strip() for r in roles.split(",") if r.strip()],
        group_keys=[k.strip() for k in group_keys.split(",") if k.strip()], actor=CLI,
    )  # fmt: skip
    click.echo(f"{username}: roles {roles}; groups {group_keys or '-'}")


@group.command("set-department")
@click.argument("username")
@click.argument("department", default="")
@_refusals
def set_department(username, department):
    """Set a user's department ('' clears it): an agent then handles only its requests."""
    identity.set_department(username, department, actor=CLI)
    click.echo(f"{username}: department {department or '-'}")


@group.command("deactivate")
@click.argument("username")
@click.option("--undo", is_flag=True, help="activate the user again")
@_refusals
def deactivate(username, undo):
    """Deactivate a user: no sign-in, no API token works, their sessions end."""
    identity.set_active(username, undo, actor=CLI)
    click.echo(f"{username} {'activated' if undo else 'deactivated'}")


@group.command("token")
@click.argument("username")
@_refusals
def token(username):
    """Issue a new API token for a user and print it once."""
    click.echo(identity.issue_token(username, actor=CLI))


@group.group("audit")
def audit():
    """The audit trail."""


@audit.command("verify")
def audit_verify():
    """Check the audit log's hash chain: exit 1 naming each altered or deleted event."""
    verdict = audit_reads.verify()
    for problem in verdict.problems:
        click.echo(f"  {problem}", err=True)
    if not verdict.is_intact:
        raise click.ClickException(f"audit log broken: {len(verdict.problems)} problem(s)")
    click.echo(f"audit log intact: {verdict.checked} event(s)")


def _bundle_files(paths) -> dict[str, bytes]:
    """A bundle's files from folders (read as bundles), form .json files and BPMN/DMN files."""
    files = {}
    for path in map(Path, paths):
        if path.is_dir():
            files.update(read_folder(path))
        elif path.suffix == ".json":
            files[f"forms/{path.name}"] = path.read_bytes()
        else:
            files[path.name] = path.read_bytes()
    return files


@group.command("deploy")
@click.argument("key")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@_refusals
def deploy(key, paths):
    """Check and deploy a bundle as a new version of KEY: a bundle folder, or .bpmn and form files.

    What is not given comes from KEY's latest version: its BPMN files when none is given,
    and each form not given again.
    """
    files = _bundle_files(paths)
    operations = current_app.extensions["flowdesk"].operations
    version, created = catalog.publish(key, files, user_id=None, operations=operations)
    click.echo(f"{key} v{version.version} ({'new' if created else 'unchanged'})")


@group.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--key", default=None, help="the offering key (default: derived from the id)")
@click.option("--process-id", default=None, help="the main process, when there are several")
@_refusals
def import_(paths, key, process_id):
    """Deploy a BPMN file or folder written by any modeler (Camunda, Flowable, bpmn.io, Spiff).

    Any process id works as it is; the offering key is derived from it unless --key is given.
    """
    files = _bundle_files(paths)
    operations = current_app.extensions["flowdesk"].operations
    version, created = catalog.import_files(
        files, user_id=None, operations=operations, key=key, process_id=process_id
    )
    process_id = version.meta.get("process_id", version.process_key)
    state = "new" if created else "unchanged"
    click.echo(f"{version.process_key} v{version.version} ({state}), process '{process_id}'")


@group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host, port):
    """Serve the platform with the in-process worker (or RQ, when FLOWDESK_REDIS_URL is set)."""
    app = current_app._get_current_object()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    logging.getLogger("spiff").setLevel(logging.WARNING)  # one line per task state change
    flowdesk = app.extensions["flowdesk"]
    catalog.sync_library(flowdesk.library, operations=flowdesk.operations)
    worker = flowdesk.dispatch
    if hasattr(worker, "ensure_started"):
        worker.ensure_started()
    click.echo(f"FlowDesk on http://{host}:{port}/ (Ctrl-C stops)")
    run_simple(host, port, app, threaded=True, use_reloader=False)


def register(app) -> None:
    app.cli.add_command(group)
