"""Where a request comes from, for the audit log and login throttling (django-axes)."""

from ipaddress import ip_address


def client_address(request) -> str | None:
    """REMOTE_ADDR; when that is the local reverse proxy (a loopback address: `web serve` listens
    on 127.0.0.1 behind nginx), the last address in X-Forwarded-For — the one nginx put there.
    A client reaching gunicorn from elsewhere cannot choose its address with that header."""
    remote = request.META.get("REMOTE_ADDR")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    try:
        if remote and forwarded and ip_address(remote).is_loopback:
            return str(ip_address(forwarded.split(",")[-1].strip()))
    except ValueError:
        pass
    return remote
