"""The Ganeti backend's reading side: the RAPI client for a site, address numbers free in both
networks, and what `xenpair check` asks the cluster (docs/ganeti.md)."""

from __future__ import annotations

from pathlib import Path

from xenpair.core.build import KINDS
from xenpair.core.site import Site
from xenpair.errors import XenpairError

EXCLUSION_TAG = "htools:iextags:xenpair"      # hail keeps instances with the same xenpair: tag apart


def rapi(site: Site):
    from xenpair.adapters.ganeti_rapi import Rapi, read_credentials

    g = site.config.ganeti
    return Rapi(g.rapi, Path(g.rapi_certificate), read_credentials(Path(g.credentials_file)), g.timeout)


def free_in_both(hosting: dict, backup: dict) -> list[int]:
    """Address numbers (offsets from each network's own address) free in both networks' maps —
    Ganeti has no "same offset in two networks"; the CSV registry's rule is this one."""
    h, b = hosting.get("map") or "", backup.get("map") or ""
    return [n for n in range(1, min(len(h), len(b)) - 1) if h[n] == "." and b[n] == "."]


def checks(site: Site) -> list:
    """RAPI reachable and authenticated, groups and networks there and connected, the OS
    definition valid on the cluster, address numbers free in both networks."""
    from xenpair.core.check import Check

    g = site.config.ganeti
    try:
        client = rapi(site)
        info = client.info()
    except XenpairError as e:
        return [Check("ganeti RAPI", False, str(e))]
    out = [Check("ganeti RAPI", True, f"{g.rapi}: cluster {info.get('name')}, Ganeti {info.get('software_version')}, "
                                      f"certificate {g.rapi_certificate} verified")]
    try:
        groups = {x["name"]: x for x in client.groups()}
        networks = {x["name"]: x for x in client.networks()}
        oses = client.operating_systems()
        tags = client.tags()
    except XenpairError as e:
        client.close()
        return out + [Check("ganeti cluster", False, str(e))]
    client.close()
    nets = {}
    for kind in KINDS:
        want = getattr(g, kind)
        group = groups.get(want.group)
        nodes = sorted(group.get("node_list") or []) if group else []
        out.append(Check(f"ganeti {kind} group", len(nodes) >= 2,
                         f"{want.group}: {', '.join(nodes)}" if len(nodes) >= 2 else
                         f"{want.group}: " + ("no such node group (gnt-group add)" if group is None else
                                              f"{len(nodes)} node(s); hail needs 2 or more (N+1)")))
        net = networks.get(want.network)
        connected = net is not None and any(c[0] == want.group for c in net.get("group_list") or [])
        out.append(Check(f"ganeti {kind} network", connected,
                         f"{want.network} {net['network']}, connected to {want.group}" if connected else
                         f"{want.network}: " + ("no such network (gnt-network add)" if net is None else
                                                f"not connected to {want.group} (gnt-network connect)")))
        nets[kind] = net
    ok_os = g.os in oses or g.os.split("+")[0] in oses
    out.append(Check("ganeti OS definition", ok_os,
                     f"{g.os} is valid on every node" if ok_os else
                     f"{g.os} is not installed (or not valid) on every node; the cluster has: "
                     f"{', '.join(oses) or 'none'} — install xenpair's OS definition (docs/ganeti.md)"))
    if nets.get("hosting") and nets.get("backup"):
        free = free_in_both(nets["hosting"], nets["backup"])
        out.append(Check("ganeti addresses in common", bool(free),
                         f"{len(free)} number(s) free in both networks, lowest {free[0]}" if free else
                         f"no number is free in both {g.hosting.network} and {g.backup.network}"))
    out.append(Check("ganeti exclusion tag", True, f"cluster tag {EXCLUSION_TAG}: a customer's machines are kept "
                     "apart by hail" if EXCLUSION_TAG in tags else
                     f"cluster tag {EXCLUSION_TAG} missing: hail will not keep a customer's machines apart "
                     f"(gnt-cluster add-tags {EXCLUSION_TAG})", warning=EXCLUSION_TAG not in tags))
    return out
