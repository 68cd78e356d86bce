"""Staff HTTP endpoints: sign-in with a second factor, sign-out (here or everywhere), and the
anonymous service figures. Each view validates, calls moderation.accounts or
moderation.figures, and answers in the API's JSON error style (docs/roles.md)."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import msgspec
import segno
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from chatserver.permissions import require
from moderation import accounts, crisis, devices
from moderation.figures import service_figures
from moderation.governance import debrief_record
from rooms import staffnames
from rooms.api import BadRequest, _body, _field, api_view
from rooms.errors import NotAuthenticated
from rooms.roles import role_for_user
from rooms.selectors import room_by_slug

MAX_FIGURE_DAYS = 3660
OTP_SETUP_MESSAGE = (
    "this account needs an authenticator app: add the key to your app (it is shown only "
    "this once), then send the app's first code to /api/staff/otp/confirm"
)


def _optional_str(data: dict[str, object], name: str) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a str")
    return value


@require_POST
@api_view
def staff_login(request: HttpRequest) -> JsonResponse:
    """Password, then (for moderators, staff and admins) the authenticator code. Answers
    ``otp_required`` when the code is missing, ``enrol_code_required`` when the account has
    no authenticator yet and the set-up code an admin issued is missing or wrong, and
    ``otp_setup_required`` (with the provisioning URI, shown once) when it is right."""
    data = _body(request)
    result = accounts.sign_in(
        request,
        username=_field(data, "username", str),
        password=_field(data, "password", str),
        otp=_optional_str(data, "otp"),
        enrol_code=_optional_str(data, "enrol_code"),
    )
    if not result.signed_in:
        return JsonResponse(
            {
                "error": {"code": "otp_setup_required", "message": OTP_SETUP_MESSAGE},
                "otp_setup": {
                    "provisioning_uri": result.provisioning_uri,
                    "qr_svg": _qr_svg(result.provisioning_uri),
                    "confirm_within_seconds": settings.STAFF_OTP_ENROL_SECONDS,
                },
                "member_session_ended": result.member_session_ended,
            },
            status=401,
        )
    return _signed_in(result)


def _qr_svg(uri: str | None) -> str | None:
    """The provisioning URI as a QR code for an authenticator app's camera: an SVG drawn here
    (segno), as a data: URI the page shows in an <img> (nothing fetched, no script)."""
    if not uri:
        return None
    return str(
        segno.make(uri, error="m").svg_data_uri(scale=5, border=2, dark="#000", light="#fff")
    )


def _signed_in(result: accounts.SignIn) -> JsonResponse:
    """The answer to a completed sign-in; with the second factor, it also (re)sets the
    trusted-device cookie that lets this device past the lockouts next time.
    ``member_session_ended`` says a member session this browser held was ended first."""
    response = JsonResponse(
        {
            "username": result.user.get_username(),
            "role": result.role,
            "verified": True,
            "member_session_ended": result.member_session_ended,
            "name": staffnames.name_of(result.user),
        }
    )
    if result.device_token:
        devices.device_cookie_attach(response, result.device_token)
    return response


@require_POST
@api_view
def staff_otp_confirm(request: HttpRequest) -> JsonResponse:
    code = _field(_body(request), "code", str)
    return _signed_in(accounts.confirm_enrolment(request, code=code))


@require_POST
@api_view
def staff_logout(request: HttpRequest) -> JsonResponse:
    accounts.sign_out(request)
    return JsonResponse({"username": None})


@require_POST
@api_view
def staff_logout_everywhere(request: HttpRequest) -> JsonResponse:
    ended = accounts.sign_out_everywhere(request)
    return JsonResponse({"username": None, "sessions_ended": ended})


# --- the name staff go by in rooms ---------------------------------------------------------------


@require_POST
@api_view
def staff_name(request: HttpRequest) -> JsonResponse:
    """Choose, once, the name this account goes by in every room (rooms/staffnames.py says
    what is refused and why)."""
    user = _verified_staff(request)
    name = staffnames.name_choose(user=user, raw=_field(_body(request), "name", str))
    return JsonResponse({"name": name})


# --- debriefs ---------------------------------------------------------------------------------

MAX_DEBRIEF_CHARS = 8000


def _verified_staff(request: HttpRequest) -> Any:
    if not request.user.is_authenticated or not accounts.session_is_verified(
        request.user, request.session
    ):
        raise NotAuthenticated("sign in as staff, with your authenticator code if you have one")
    return request.user


@require_POST
@api_view
def debrief_file(request: HttpRequest) -> JsonResponse:
    """A facilitator files their debrief after a session (sealed; docs/governance.md), and
    may ask for support themselves: ``needs_support`` reaches a supervisor through the audit
    log and the admin's list of debriefs."""
    user = _verified_staff(request)
    require(role_for_user(user), "file_debrief")
    data = _body(request)
    text = _field(data, "text", str).strip()
    if not text or len(text) > MAX_DEBRIEF_CHARS:
        raise BadRequest(f"text must be 1 to {MAX_DEBRIEF_CHARS} characters")
    needs_support = data.get("needs_support", False)
    if not isinstance(needs_support, bool):
        raise BadRequest("needs_support must be true or false")
    session_on = timezone.localdate()
    if (raw := _optional_str(data, "session_on")) is not None:
        try:
            session_on = dt.date.fromisoformat(raw)
        except ValueError:
            raise BadRequest("session_on must be a date like 2026-11-25") from None
    if session_on > timezone.localdate():
        raise BadRequest("session_on cannot be in the future")
    room = None
    if (slug := _optional_str(data, "room")) is not None:
        room = room_by_slug(slug)
    debrief = debrief_record(
        facilitator=user, room=room, session_on=session_on, text=text, needs_support=needs_support
    )
    return JsonResponse({"id": debrief.pk, "needs_support": needs_support}, status=201)


# --- help --------------------------------------------------------------------------------------


@require_GET
def help_resources(request: HttpRequest) -> JsonResponse:
    """The crisis resources the page's "Get help now" shows and the signposting sends: one
    list, served to anyone (no session needed)."""
    signpost = crisis.signpost()
    return JsonResponse(
        {
            "message": signpost.message,
            "resources": [msgspec.structs.asdict(r) for r in signpost.resources],
        }
    )


# --- figures ----------------------------------------------------------------------------------


@require_GET
@api_view
def figures(request: HttpRequest) -> JsonResponse:
    """Anonymous aggregates for professional staff and admins (``?days=30``)."""
    if not request.user.is_authenticated or not accounts.session_is_verified(
        request.user, request.session
    ):
        raise NotAuthenticated("sign in as staff, with your authenticator code, first")
    require(role_for_user(request.user), "view_figures")
    raw = request.GET.get("days", "30")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_FIGURE_DAYS:
        raise BadRequest(f"days must be a whole number from 1 to {MAX_FIGURE_DAYS}")
    return JsonResponse(service_figures(days=int(raw)))


@functools.cache
def _figures_html() -> str:
    return (settings.STATIC_DIR / "figures.html").read_text(encoding="utf-8")


@require_GET
def figures_page(request: HttpRequest) -> HttpResponse:
    """The figures page: static HTML whose script asks /api/figures (which checks the role)."""
    html = _figures_html() if not settings.DEBUG else _figures_html.__wrapped__()
    return HttpResponse(html, content_type="text/html; charset=utf-8")
