"""xenpair web migrate | worker | manage — the self-service pages' database and worker."""

import os
from typing import Annotated

import typer

web_app = typer.Typer(help="The self-service web pages and their worker (pip install 'xenpair[web]').",
                      no_args_is_help=True)


def _django(ctx: typer.Context, migrated: bool = True) -> None:
    """Django set up from the same site config the CLI reads (its web: section); MIGRATED: refuse
    a database that `xenpair web migrate` has not brought to this xenpair's schema."""
    from xenpair.errors import BadInput

    try:
        import django
    except ImportError:
        raise BadInput("the web part of xenpair is not installed",
                       hint="pip install 'xenpair[web]' (Django, argon2, django-axes, gunicorn)") from None
    if ctx.obj["config"]:
        os.environ["XENPAIR_CONFIG"] = ctx.obj["config"]
    os.environ["DJANGO_SETTINGS_MODULE"] = "xenpair.web.settings"
    django.setup()
    if migrated:
        from django.db import DatabaseError, connection
        from django.db.migrations.executor import MigrationExecutor

        try:
            executor = MigrationExecutor(connection)
            todo = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except DatabaseError as e:
            raise _unreachable(e) from None
        if todo:
            raise BadInput(f"the web database is not at this xenpair's schema ({len(todo)} migration(s) to apply)",
                           where=_where(), hint="run 'xenpair web migrate' (after every install or upgrade)")


def _unreachable(e: Exception):
    from xenpair.errors import Failed

    return Failed(f"cannot open the web database: {str(e).strip().splitlines()[0]}", where=_where(),
                  hint="check web.database (or web.postgresql) in the config, and that the database server runs")


def _where() -> str:
    from django.conf import settings

    db = settings.DATABASES["default"]
    server = f" on {db.get('HOST') or 'the local socket'}" if "postgresql" in db["ENGINE"] else ""
    return f"{settings.CONFIG_PATH or 'the default config'}: web (database {db['NAME']}{server})"


@web_app.command("migrate")
def migrate(ctx: typer.Context) -> None:
    """Create or update the web database to this xenpair's schema, and collect the static files
    (the admin's CSS) into web.static_dir. Run it after every install or upgrade."""
    _django(ctx, migrated=False)
    from django.core.management import call_command
    from django.db import DatabaseError

    try:
        call_command("migrate", interactive=False, verbosity=1)
    except DatabaseError as e:
        raise _unreachable(e) from None
    call_command("collectstatic", interactive=False, verbosity=0)


@web_app.command("worker")
def worker(ctx: typer.Context, once: Annotated[bool, typer.Option(
        "--once", help="Run the queued jobs, then exit (default: wait for new ones until stopped).")] = False) -> None:
    """Carry out approved orders: each job with the same plan/apply as the CLI, one worker per job."""
    _django(ctx)
    from django.conf import settings

    from xenpair.web import jobs

    ran = jobs.work(ctx.obj["config"], settings.WEB.heartbeat, once=once)
    print(f"xenpair web worker: {ran} job(s) run")


@web_app.command("user")
def user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The login name.")],
    operator: Annotated[bool, typer.Option(
        "--operator", help="An operator (approves orders, the admin pages).")] = False,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input (default: a new account gets a "
                                 "generated one, printed once; an existing one keeps its password).")] = False,
    max_pairs: Annotated[int | None, typer.Option("--max-pairs", min=0, max=10000)] = None,
    external_ips: Annotated[int | None, typer.Option("--external-ips", min=0, max=10000,
                                                     help="How many pairs may have an external IP.")] = None,
    package: Annotated[list[str] | None, typer.Option(
        "--package", help="A package tier the customer may order (repeat it; none given: unchanged; "
                          "an empty allowance means every tier).")] = None,
    auto_approve: Annotated[bool | None, typer.Option("--auto-approve/--no-auto-approve")] = None,
    may_rebuild: Annotated[bool | None, typer.Option(
        "--may-rebuild/--no-may-rebuild", help="Rebuild the hosting machine without an operator.")] = None,
    may_remove: Annotated[bool | None, typer.Option(
        "--may-remove/--no-may-remove", help="Remove a pair without an operator.")] = None,
) -> None:
    """Create or update a customer (with their allowance) or an operator."""
    import sys

    from xenpair.errors import BadInput

    allowance = {"max_pairs": max_pairs, "external_ips": external_ips, "packages": package,
                 "auto_approve": auto_approve, "may_rebuild": may_rebuild, "may_remove": may_remove}
    if operator and any(v is not None for v in allowance.values()):
        raise BadInput("an operator has no allowance", hint="leave out --max-pairs, --package, ... with --operator")
    if package:
        from xenpair.core.site import open_site

        tiers = open_site(ctx.obj["config"]).tiers
        unknown = [p for p in package if p not in tiers]
        if unknown:
            raise BadInput(f"no package tier {unknown[0]!r}", hint=f"the tiers: {', '.join(tiers)}")
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    _django(ctx)
    from xenpair.web.accounts import set_user

    created, generated = set_user(name, operator, password, allowance)
    print(f"{'created' if created else 'updated'} {'operator' if operator else 'customer'} {name}"
          + (f"; password: {generated}" if generated else ""))


@web_app.command("serve")
def serve(
    ctx: typer.Context,
    listen: Annotated[str, typer.Option("--listen", metavar="HOST:PORT",
                                        help="Where gunicorn listens (nginx with TLS in front).")] = "127.0.0.1:8080",
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="gunicorn worker processes.")] = 2,
) -> None:
    """Serve the pages with gunicorn (pre-fork WSGI server, in Debian and on PyPI)."""
    _django(ctx)
    from django.core.wsgi import get_wsgi_application
    from gunicorn.app.base import BaseApplication

    class Gunicorn(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", listen)
            self.cfg.set("workers", workers)
            self.cfg.set("forwarded_allow_ips", "127.0.0.1")     # X-Forwarded-Proto from the local proxy only
            if "control_socket_disable" in self.cfg.settings:      # gunicorn >= 25.1: no socket in $HOME
                self.cfg.set("control_socket_disable", True)

        def load(self):
            return get_wsgi_application()

    Gunicorn().run()


@web_app.command("manage", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def manage(ctx: typer.Context) -> None:
    """Django's manage.py commands for this site, e.g. `xenpair web manage createsuperuser`."""
    _django(ctx, migrated=False)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["xenpair web manage", *ctx.args])
