"""The member's web page: one static HTML document; everything else is static files and the
JSON API. Served by the app so the laptop start needs nothing else."""

from __future__ import annotations

import functools

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET


@functools.cache
def _html(name: str) -> str:
    return (settings.STATIC_DIR / name).read_text(encoding="utf-8")


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
