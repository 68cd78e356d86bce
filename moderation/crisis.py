"""Crisis resources: one list (``moderation/data/crisis_resources.json``), served by the
server to everything that shows it: the member page's "Get help now" panel (rendered into the
page, so it is there even before any script runs, and at ``GET /api/help``), the private
``signpost`` frame after a risky message, and a writer's care status when nobody is on call."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from django.conf import settings
from django.utils.html import format_html, format_html_join

from rooms import values

# Only these become links: a phone number or a text message.
LINK_SCHEMES = ("tel:", "sms:")


@functools.cache
def _data() -> dict[str, Any]:
    text = resources.files("moderation").joinpath("data/crisis_resources.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


def _locale(locale: str | None = None) -> dict[str, Any]:
    locales = _data()["locales"]
    return locales.get(locale or settings.CRISIS_RESOURCES_LOCALE) or locales["en-gb"]  # type: ignore[no-any-return]


def _resource(entry: dict[str, Any]) -> values.Resource:
    href = entry.get("href")
    return values.Resource(
        name=entry["name"],
        contact=entry["contact"],
        note=entry.get("note", ""),
        href=href if isinstance(href, str) and href.startswith(LINK_SCHEMES) else None,
    )


def crisis_resources(locale: str | None = None) -> list[values.Resource]:
    return [_resource(r) for r in _locale(locale)["resources"]]


def always_open_resources(locale: str | None = None) -> list[values.Resource]:
    """The lines open at every hour (999, Samaritans, Shout): what to do when nobody from
    the service is on call."""
    return [_resource(r) for r in _locale(locale)["resources"] if r.get("always")]


def signpost(locale: str | None = None) -> values.Signpost:
    data = _locale(locale)
    return values.Signpost(message=data["message"], resources=crisis_resources(locale))


def help_list_html(locale: str | None = None) -> str:
    """The help panel's list items, for the page (every value escaped)."""

    def contact(r: values.Resource) -> str:
        if r.href:
            return format_html('<a class="resource-contact" href="{}">{}</a>', r.href, r.contact)
        return format_html('<span class="resource-contact">{}</span>', r.contact)

    return format_html_join(
        "\n",
        '<li><span class="resource-name">{}</span>{}<span class="resource-note">{}</span></li>',
        ((r.name, contact(r), r.note) for r in crisis_resources(locale)),
    )
