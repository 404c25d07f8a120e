"""The `web:` section of the site config: the self-service pages and their worker (docs/web.md).

No `from __future__ import annotations` (see config.py).
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict

from xenpair.config_roles import AbsPath


class Web(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    database: AbsPath = "/var/lib/xenpair/web/db.sqlite3"
    secret_key_file: AbsPath = "/var/lib/xenpair/web/secret_key"
    allowed_hosts: list[str] = ["localhost", "127.0.0.1"]
    login_failures: Annotated[int, Strict()] = Field(default=5, ge=1, le=100)
    heartbeat: Annotated[float, Strict()] = Field(default=5.0, gt=0, le=600)
