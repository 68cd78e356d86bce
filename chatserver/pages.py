"""The member's web page: one static HTML document; everything else is static files and the
JSON API. Served by the app so the laptop start needs nothing else."""

from __future__ import annotations

import functools

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

# Where the member page's help panel lists the crisis resources: filled in by the server
# from the one list (moderation/data/crisis_resources.json), so the panel works even before
# any script has run, and the page and the signposting never disagree.
HELP_LIST_MARK = "<!-- crisis resources -->"


@functools.cache
def _html(name: str) -> str:
    from moderation.crisis import help_list_html

    html = (settings.STATIC_DIR / name).read_text(encoding="utf-8")
    return html.replace(HELP_LIST_MARK, help_list_html()) if HELP_LIST_MARK in html else html


def _page(name: str) -> HttpResponse:
    html = _html(name) if not settings.DEBUG else _html.__wrapped__(name)
    return HttpResponse(html, content_type="text/html; charset=utf-8")


@require_GET
@ensure_csrf_cookie
def index(request: HttpRequest) -> HttpResponse:
    return _page("index.html")


@require_GET
@ensure_csrf_cookie
def staff(request: HttpRequest) -> HttpResponse:
    """The staff dashboard (static/staff.html): sign-in and the live escalation queue."""
    return _page("staff.html")
