"""`backend: ganeti` and the `ganeti:` section of the site config (docs/ganeti.md).

No `from __future__ import annotations` (see config.py).
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

from xenpair.config_roles import AbsPath

# Ganeti's own rule for group, network and OS names (a letter first; no spaces or slashes)
Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.+-]{0,62}$")]


class GanetiKind(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    group: Name = Field(description="the node group the machines of this kind go to")
    network: Name = Field(description="the Ganeti network holding this kind's addresses")


class Ganeti(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rapi: str = Field(default="https://localhost:5080", pattern=r"^https://[A-Za-z0-9.:\[\]-]+/?$")
    rapi_certificate: AbsPath = "/var/lib/ganeti/rapi.pem"
    credentials_file: AbsPath = "/etc/xenpair/ganeti-rapi-credentials"
    hosting: GanetiKind = GanetiKind(group="hosting", network="hosting")
    backup: GanetiKind = GanetiKind(group="backup", network="backup")
    disk_template: Literal["plain", "drbd", "file", "sharedfile", "diskless"] = "plain"
    iallocator: Name | None = "hail"
    os: Name = "xenpair+default"
    # the golden image the OS definition installs, the same path on every node of both groups
    image: AbsPath = "/var/lib/xenpair/images/bookworm.tar"
    timeout: Annotated[float, Strict()] = Field(default=30.0, gt=0, le=600, description="one RAPI request")
