"""The `web:` section of the site config: the self-service pages and their worker (docs/web.md).

No `from __future__ import annotations` (see config.py).
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict

from xenpair.config_roles import AbsPath


class Postgresql(BaseModel):
    """Instead of SQLite, for sites that run PostgreSQL (pip install 'xenpair[web,postgresql]')."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=63)
    user: str = Field(min_length=1, max_length=63)
    host: str = Field(default="", max_length=253, description="empty: the local Unix socket")
    port: Annotated[int, Strict()] = Field(default=5432, ge=1, le=65535)
    password_file: AbsPath | None = None


class Web(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    database: AbsPath = "/var/lib/xenpair/web/db.sqlite3"
    postgresql: Postgresql | None = None
    static_dir: AbsPath = "/var/lib/xenpair/web/static"
    secret_key_file: AbsPath = "/var/lib/xenpair/web/secret_key"
    allowed_hosts: list[str] = ["localhost", "127.0.0.1"]
    login_failures: Annotated[int, Strict()] = Field(default=5, ge=1, le=100)
    heartbeat: Annotated[float, Strict()] = Field(default=5.0, gt=0, le=600)
    # start the machines after a build or rebuild and wait until they are ready (false: build
    # only, e.g. a demo on a machine without a Xen hypervisor)
    start: Annotated[bool, Strict()] = True
