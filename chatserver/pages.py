"""The member's web page: one static HTML document; everything else is static files and the
JSON API. Served by the app so the laptop start needs nothing else."""

from __future__ import annotations

import functools

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET


@functools.cache
def _index_html() -> str:
    return (settings.STATIC_DIR / "index.html").read_text(encoding="utf-8")


@require_GET
@ensure_csrf_cookie
def index(request: HttpRequest) -> HttpResponse:
    html = _index_html() if not settings.DEBUG else _index_html.__wrapped__()
    return HttpResponse(html, content_type="text/html; charset=utf-8")
