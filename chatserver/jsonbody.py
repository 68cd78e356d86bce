"""Request bodies of the JSON API: a JSON object, or nothing, and never a 500.

Every way a body can be malformed is the client's error and gets ``400 bad_request`` as JSON
(docs/api.md). Three of them used to reach code that failed with a 500 HTML page:

- *Deep nesting.* ``json`` recurses once per level; a few thousand ``[`` or ``{"a":`` well
  inside the size limit raised RecursionError. Bodies are held to ``MAX_DEPTH`` levels.
- *NUL characters.* PostgreSQL text cannot hold U+0000, so a field with one failed at the
  database.
- *Lone surrogates.* ``"\\ud800"`` is valid JSON but not Unicode text: it cannot be encoded to
  UTF-8 to be hashed or stored.

Both kinds of character are refused anywhere in a body, keys included: no field of the API
accepts them. Bodies must be UTF-8 (RFC 8259), without NaN or Infinity (not JSON).

:class:`JsonBodyMiddleware` holds every body sent to ``/api/`` to these rules before any view
or the CSRF check reads it, so an endpoint that ignores its body answers a malformed one the
same way, and Django's own failures to read a body (larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE``,
a broken multipart body the CSRF check would parse, too many form fields) are JSON too, not
an HTML 400 or 500 page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import SuspiciousOperation, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError

# The API's bodies are flat objects; this leaves room for any future field and none for abuse.
MAX_DEPTH = 32
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")
FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})


class MalformedBody(ValueError):
    """A body the API cannot take; the message says why, for the client's developer."""


def _refuse_constant(name: str) -> Any:
    raise MalformedBody(f"request body is not valid JSON ({name} is not a JSON number)")


def parse_object(raw: bytes, *, max_bytes: int) -> dict[str, Any]:
    """The body as a dict, or ``{}`` for an empty body; raises :class:`MalformedBody`."""
    if not raw:
        return {}
    if len(raw) > max_bytes:
        raise MalformedBody("request body too large")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("request body is not UTF-8") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise MalformedBody(f"request body is nested more than {MAX_DEPTH} levels deep") from None
    except MalformedBody:
        raise
    except ValueError:
        raise MalformedBody("request body is not valid JSON") from None
    _check_values(data)
    if not isinstance(data, dict):
        raise MalformedBody("request body must be a JSON object")
    return data


def _check_values(data: Any) -> None:
    """Depth and text of everything in a parsed body, without recursion."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _NOT_TEXT.search(value):
                raise MalformedBody(
                    "request body holds a NUL character or an unpaired surrogate, "
                    "which no field accepts"
                )
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise MalformedBody(f"request body is nested more than {MAX_DEPTH} levels deep")
            items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
            for key, item in items:
                if key is not None:
                    stack.append((key, depth))
                stack.append((item, depth + 1))


def bad_request(message: str) -> JsonResponse:
    """The API's error shape (``rooms.api.error_response``) for a malformed body."""
    return JsonResponse({"error": {"code": "bad_request", "message": message}}, status=400)


def request_object(request: HttpRequest) -> dict[str, Any]:
    """The body of an API request as a JSON object (``{}`` for none); raises
    :class:`MalformedBody`. What a client sends as an empty form (a multipart body that is
    only its closing boundary, as browsers and Django's test client send for no data) is no
    body. A body sent with a form content type is also parsed as the form the CSRF check
    reads, so a form Django cannot parse is refused here, as JSON, not there."""
    try:
        raw = request.body  # read now, so a form parser later reads this copy
    except SuspiciousOperation:  # RequestDataTooBig
        raise MalformedBody("request body too large") from None
    except UnreadablePostError:
        raise MalformedBody("request body could not be read") from None
    if request.content_type in FORM_TYPES:
        try:
            request.POST  # noqa: B018 - parsed here, where an error is the client's
        except (MultiPartParserError, TooManyFilesSent, SuspiciousOperation):
            raise MalformedBody("request body is not valid JSON") from None
        boundary = (request.content_params or {}).get("boundary", "")
        if boundary and raw.strip() == f"--{boundary}--".encode("latin-1"):
            return {}
    return parse_object(raw, max_bytes=settings.CHAT_MAX_FRAME_BYTES)


class JsonBodyMiddleware:
    """Every body sent to ``/api/`` is held to the rules before the CSRF check or a view
    reads it."""

    API_PREFIX = "/api/"
    WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(self.API_PREFIX) and request.method in self.WITH_BODY:
            try:
                request_object(request)
            except MalformedBody as exc:
                return bad_request(str(exc))
        return self.get_response(request)
