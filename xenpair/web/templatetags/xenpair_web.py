"""The pair's state as every page shows it (a tag, not an include: the operator's table has a
row per pair on the site, and an include per row costs more than the rest of the row)."""

from django import template
from django.utils.html import format_html
from django.utils.text import slugify

register = template.Library()


@register.simple_tag
def pair_state(p: dict) -> str:
    readiness = p.get("readiness")
    text = f"{p['state']}, {readiness}" if readiness else p["state"]
    busy = format_html(' <span class="muted">(job {})</span>', p["busy"]) if p.get("busy") else ""
    return format_html('<span class="state {}">{}</span>{}', slugify(readiness or ""), text, busy)
