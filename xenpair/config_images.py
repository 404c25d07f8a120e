"""The `images:` section of the site config: golden images (`xenpair image ...`).

No `from __future__ import annotations` (see config.py).
"""

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict

from xenpair.config_roles import AbsPath

_URL = re.compile(r"https?://[A-Za-z0-9.:\[\]-]+(/[A-Za-z0-9._~%+/-]*)?\Z")


def check_url(v: str) -> str:
    if not _URL.match(v):
        raise ValueError(f"{v!r} is not an http:// or https:// URL (no spaces, quotes or options)")
    return v.rstrip("/")


Url = Annotated[str, AfterValidator(check_url)]


class Images(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # on each dom0: DIR/DIST/VERSION.tar and its manifest DIR/DIST/VERSION.json
    dir: AbsPath = "/var/lib/xenpair/images"
    keep: Annotated[int, Strict()] = Field(default=2, ge=1, le=100,
                                           description="old versions kept beside the newest")
    max_age_days: Annotated[float, Strict()] = Field(default=7.0, gt=0, le=3650)
    required: bool = False
    mirror: Url | None = Field(default=None, description="default: the one this dom0's apt uses")
    security_mirror: Url | None = Field(default=None, description="default: the one this dom0's apt uses")
    apt_proxy: Url | None = None
