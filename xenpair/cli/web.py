"""xenpair web migrate | worker | manage — the self-service pages' database and worker."""

import os
from typing import Annotated

import typer

web_app = typer.Typer(help="The self-service web pages and their worker (pip install 'xenpair[web]').",
                      no_args_is_help=True)


def _django(ctx: typer.Context) -> None:
    """Django set up from the same site config the CLI reads (its web: section)."""
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


@web_app.command("migrate")
def migrate(ctx: typer.Context) -> None:
    """Create or update the web database (web.database) to this xenpair's schema."""
    _django(ctx)
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1)


@web_app.command("worker")
def worker(ctx: typer.Context, once: Annotated[bool, typer.Option(
        "--once", help="Run the queued jobs, then exit (default: wait for new ones until stopped).")] = False) -> None:
    """Carry out approved orders: each job with the same plan/apply as the CLI, one worker per job."""
    _django(ctx)
    from django.conf import settings

    from xenpair.web import jobs

    ran = jobs.work(ctx.obj["config"], settings.WEB.heartbeat, once=once)
    print(f"xenpair web worker: {ran} job(s) run")


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

        def load(self):
            return get_wsgi_application()

    Gunicorn().run()


@web_app.command("manage", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def manage(ctx: typer.Context) -> None:
    """Django's manage.py commands for this site, e.g. `xenpair web manage createsuperuser`."""
    _django(ctx)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["xenpair web manage", *ctx.args])
