"""Every malformed body on every JSON endpoint is ``400 bad_request`` as JSON, never a 500 or
an HTML page (hardening issue, row 12). Through a real daphne process:
``tests/e2e/test_malformed_bodies.py``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern

from chatserver.jsonbody import MAX_DEPTH, MalformedBody, parse_object

LIMIT = 65536


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


# Bodies that must be refused, each a way the finding (or its neighbours) broke the API: those
# the parser refuses, then those Django would read as forms (for the CSRF check).
MALFORMED_JSON: dict[str, tuple[bytes, str]] = {
    "deep array": (b"[" * 5000 + b"]" * 5000, "application/json"),
    "deep object": (nested(3000), "application/json"),
    "one level too deep": (nested(MAX_DEPTH + 1), "application/json"),
    "NUL in a value": (
        json.dumps({"phrase": "a\u0000b", "code": "x\u0000"}).encode(),
        "application/json",
    ),
    "NUL in a key": (b'{"phrase\\u0000": "x"}', "application/json"),
    "lone high surrogate": (b'{"phrase": "\\ud800 words", "code": "\\ud800"}', "application/json"),
    "lone low surrogate": (b'{"username": "\\udfff"}', "application/json"),
    "surrogate in a list": (b'{"a": ["ok", "\\udbff"]}', "application/json"),
    "not UTF-8": (b'{"phrase": "\xff\xfe"}', "application/json"),
    "UTF-16": ('{"phrase": "x"}'.encode("utf-16"), "application/json"),
    "NaN": (b'{"agreement_version": NaN}', "application/json"),
    "not JSON": (b"{not json", "application/json"),
    "raw control character": (b'{"phrase": "a\x00b"}', "application/json"),
    "a list": (b"[1]", "application/json"),
    "a string": (b'"confirm"', "application/json"),
    "over the frame limit": (b'{"a": "' + b"x" * LIMIT + b'"}', "application/json"),
    "over Django's memory limit": (b'{"a": "' + b"x" * 3_000_000 + b'"}', "application/json"),
}
MALFORMED_FORMS: dict[str, tuple[bytes, str]] = {
    "broken multipart": (b"--xx\r\nbroken", "multipart/form-data; boundary=xx"),
    "a form": (b"phrase=one+two", "application/x-www-form-urlencoded"),
    "too many form fields": (
        b"&".join(b"f%d=1" % i for i in range(1200)),
        "application/x-www-form-urlencoded",
    ),
}
MALFORMED = {**MALFORMED_JSON, **MALFORMED_FORMS}

# Every endpoint that takes a body (each refuses a malformed one, even those that ignore
# their body), and the ones that take none.
BODY_ENDPOINTS = [
    ("POST", "/api/session"),
    ("DELETE", "/api/session"),
    ("POST", "/api/session/recover"),
    ("DELETE", "/api/me"),
    ("POST", "/api/rooms/circle/join"),
    ("POST", "/api/invites/redeem"),
    ("POST", "/api/staff/login"),
    ("POST", "/api/staff/logout"),
    ("POST", "/api/staff/otp/confirm"),
    ("POST", "/api/staff/logout-everywhere"),
    ("POST", "/api/staff/debriefs"),
    ("POST", "/api/staff/name"),
    ("POST", "/api/session/phrase"),
    ("POST", "/api/session/exit-explained"),
    ("POST", "/api/rooms/circle/pseudonym"),
]
GET_ONLY_ROUTES = {
    "api/rooms",
    "api/rooms/<slug:slug>",
    "api/rooms/<slug:slug>/messages",
    "api/figures",
    "api/help",
}


def test_the_endpoint_list_is_every_api_route() -> None:
    from chatserver.urls import urlpatterns

    routes = {str(p.pattern) for p in urlpatterns if isinstance(p, URLPattern)}
    api = {route for route in routes if route.startswith("api/")}
    listed = {path.lstrip("/").replace("circle", "<slug:slug>") for _, path in BODY_ENDPOINTS}
    assert api == listed | GET_ONLY_ROUTES


@pytest.mark.parametrize("name", list(MALFORMED_JSON))
def test_parse_refuses(name: str) -> None:
    body, _ = MALFORMED_JSON[name]
    with pytest.raises(MalformedBody):
        parse_object(body, max_bytes=LIMIT)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", {}),
        (b'{"phrase": "calm heron"}', {"phrase": "calm heron"}),
        (nested(MAX_DEPTH), json.loads(nested(MAX_DEPTH))),
        # Astral characters (a valid surrogate pair in JSON) and escapes are text.
        (b'{"text": "\\ud83d\\ude00 \\u00e9 \\n"}', {"text": "\U0001f600 \u00e9 \n"}),
        ('{"text": "写了一条消息"}'.encode(), {"text": "写了一条消息"}),
    ],
)
def test_parse_accepts(body: bytes, expected: dict[str, Any]) -> None:
    assert parse_object(body, max_bytes=LIMIT) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), BODY_ENDPOINTS)
@pytest.mark.parametrize("name", list(MALFORMED))
def test_every_endpoint_answers_json_400(client: Client, method: str, path: str, name: str) -> None:
    body, content_type = MALFORMED[name]
    response = client.generic(method, path, data=body, content_type=content_type)
    assert response.status_code == 400, response.content[:200]
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "bad_request"


@pytest.mark.django_db
def test_well_formed_bodies_still_work(client: Client) -> None:
    from tests.factories import RoomFactory

    RoomFactory(slug="circle")
    assert client.post("/api/session", b"{}", content_type="application/json").status_code == 201
    joined = client.post(
        "/api/rooms/circle/join", {"agreement_version": 1}, content_type="application/json"
    )
    assert joined.status_code == 200
    # An empty body is no body: the endpoints that need nothing still take none; so is an
    # empty form (what Django's test client and a browser's empty FormData send).
    assert client.post("/api/session").status_code == 200
    assert client.delete("/api/session").status_code == 200
