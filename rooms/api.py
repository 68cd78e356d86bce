"""The HTTP JSON API for what is not realtime (docs/api.md): member sessions, rooms,
agreements, invites and history pages. Each view validates, calls one service or selector and
serialises; errors come back as ``{"error": {"code", "message"}}`` with a fitting status."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chatserver.jsonbody import MalformedBody, request_object
from rooms import entry, identity, protocol, selectors, services, throttles
from rooms.access import MEMBER_SESSION_KEY
from rooms.errors import NotAuthenticated, RoomError, StaffSignedIn
from rooms.roles import role_for_user
from rooms.transport import page_fits

View = Callable[..., HttpResponse]


def error_response(
    code: str, message: str, status: int, *, retry_after: float | None = None
) -> JsonResponse:
    """A JSON error; with ``retry_after`` (seconds) also in the body and as a Retry-After
    header, so a client or a proxy knows when to come back."""
    error: dict[str, Any] = {"code": code, "message": message}
    if retry_after is not None:
        error["retry_after"] = math.ceil(retry_after)
    response = JsonResponse({"error": error}, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(math.ceil(retry_after))
    return response


def api_view(view: View) -> View:
    """Map domain errors and malformed bodies to JSON errors, never a 500 page."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except RoomError as exc:
            return error_response(
                exc.code, exc.message, exc.http_status, retry_after=exc.retry_after
            )
        except BadRequest as exc:
            return error_response("bad_request", str(exc), 400)

    return wrapper


class BadRequest(Exception):
    pass


def _body(request: HttpRequest) -> dict[str, Any]:
    """The JSON object sent (``{}`` for none), held to ``chatserver.jsonbody``'s rules (the
    middleware has refused a malformed body already; this is what a view reads)."""
    try:
        return request_object(request)
    except MalformedBody as exc:
        raise BadRequest(str(exc)) from None


def _field(data: dict[str, Any], name: str, kind: type) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise BadRequest(f"{name} must be a {kind.__name__}")
    return value


def _member(request: HttpRequest) -> Any:
    return selectors.member_live(request.session.get(MEMBER_SESSION_KEY))


def _require_member(request: HttpRequest) -> Any:
    member = _member(request)
    if member is None:
        raise NotAuthenticated("create a member session first")
    return member


def _staff_user(request: HttpRequest) -> Any:
    return request.user if request.user.is_authenticated else None


def _caller(request: HttpRequest) -> tuple[Any, Any]:
    """The anonymous member, else the signed-in staff user (one of them, or neither)."""
    member = _member(request)
    return member, None if member else _staff_user(request)


def _require_caller(request: HttpRequest) -> tuple[Any, Any]:
    """A member or a staff user, asked before any room is looked up: a stranger gets the
    same 401 for every room name, so the answer does not tell which names exist."""
    member, user = _caller(request)
    if member is None and user is None:
        raise NotAuthenticated("create a member session first")
    return member, user


def _staff_summary(request: HttpRequest) -> dict[str, str | None] | None:
    """Who is signed in on the staff side (for the dashboard after a reload): only a session
    that passed its second factor, where one is required. ``name`` is the name they go by in
    rooms, None until they choose it."""
    from rooms.roles import session_is_verified
    from rooms.staffnames import name_of

    user = _staff_user(request)
    if user is None or not session_is_verified(user, request.session):
        return None
    return {
        "username": user.get_username(),
        "role": role_for_user(user) or "",
        "name": name_of(user),
    }


# --- health -------------------------------------------------------------------------------


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return JsonResponse({"status": "database unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


# --- sessions -----------------------------------------------------------------------------


@ensure_csrf_cookie
@require_http_methods(["GET", "POST", "DELETE"])
@api_view
def session(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        member = _member(request)
        return JsonResponse(
            {
                "member": member is not None,
                "staff": _staff_summary(request),
                "csrf_token": get_token(request),
                # Whether this member was told what Quick exit does (docs/web-client.md).
                "exit_explained": member is not None and member.exit_explained_at is not None,
            }
        )
    if request.method == "DELETE":
        return _logout(request)
    if _member(request) is not None:
        return JsonResponse({"member": True, "recovery_phrase": None})
    _refuse_if_staff(request)
    throttles.throttle_hit(scope=throttles.SESSION_CREATE, client=throttles.client_address(request))
    created = identity.member_create()
    request.session.cycle_key()
    request.session[MEMBER_SESSION_KEY] = str(created.member.pk)
    # Shown once; never stored. The client must show it and then forget it.
    return JsonResponse({"member": True, "recovery_phrase": created.recovery_phrase}, status=201)


def _refuse_if_staff(request: HttpRequest) -> None:
    """A member session is never added to a staff account's session (nor the other way
    round, moderation.accounts.apart_from_member): the row would tie the two together."""
    if _staff_user(request) is not None:
        raise StaffSignedIn(
            "this browser is signed in to a staff account: sign out of it first (or use "
            "another browser) to take part as a member, so the two are never linked"
        )


def _logout(request: HttpRequest) -> JsonResponse:
    session_key = request.session.session_key
    logout(request)  # flushes the session
    if session_key:
        services.sockets_close_for_session(session_key)
    return JsonResponse({"member": False})


@require_POST
@api_view
def session_new_phrase(request: HttpRequest) -> JsonResponse:
    """A new recovery phrase for the member signed in here (shown once; the old one stops
    working). Counted like new sessions, so it cannot be asked for in a loop."""
    member = _require_member(request)
    throttles.throttle_hit(scope=throttles.SESSION_CREATE, client=throttles.client_address(request))
    return JsonResponse({"recovery_phrase": identity.member_new_phrase(member=member)})


@require_POST
@api_view
def session_exit_explained(request: HttpRequest) -> JsonResponse:
    """The member has read what Quick exit does: it is not explained again, on any device."""
    identity.member_exit_explained(member=_require_member(request))
    return JsonResponse({"exit_explained": True})


@require_POST
@api_view
def session_recover(request: HttpRequest) -> JsonResponse:
    phrase = _field(_body(request), "phrase", str)
    _refuse_if_staff(request)
    throttles.throttle_hit(scope=throttles.RECOVERY, client=throttles.client_address(request))
    member = identity.member_recover(phrase=phrase)
    request.session.cycle_key()
    request.session[MEMBER_SESSION_KEY] = str(member.pk)
    return JsonResponse({"member": True})


# --- rooms --------------------------------------------------------------------------------


def _room_json(room: Any, membership: Any) -> dict[str, Any]:
    return {
        "slug": room.slug,
        "title": room.title,
        "description": room.description,
        "visibility": room.visibility,
        "state": room.state,
        "capacity": room.capacity,
        "schedule": room.schedule,
        "sessions": room.uses_sessions,
        "joined": membership is not None
        and membership.agreement_version == selectors.current_agreement_version(room),
    }


def _memberships(request: HttpRequest) -> dict[int, Any]:
    return selectors.memberships_by_room(member=_member(request), user=_staff_user(request))


@require_GET
@api_view
def room_list(request: HttpRequest) -> JsonResponse:
    """Open rooms, and the private rooms the caller may enter (``rooms/entry.py``)."""
    memberships = _memberships(request)
    _, user = _caller(request)
    rooms = [
        _room_json(room, memberships.get(room.pk))
        for room in selectors.rooms_visible()
        if entry.may_see(room, memberships.get(room.pk), user)
    ]
    return JsonResponse({"rooms": rooms})


@require_GET
@api_view
def room_detail(request: HttpRequest, slug: str) -> JsonResponse:
    member, user = _caller(request)
    room, membership = entry.room_for(slug=slug, member=member, user=user)
    agreement = room.agreements.order_by("-version").first()
    data = _room_json(room, membership)
    data["agreement"] = (
        {"version": agreement.version, "text": agreement.text}
        if agreement
        else {"version": 0, "text": ""}
    )
    data["pseudonym"] = membership.pseudonym if membership else None
    return JsonResponse(data)


@require_POST
@api_view
def room_join(request: HttpRequest, slug: str) -> JsonResponse:
    version = _field(_body(request), "agreement_version", int)
    member, user = _require_caller(request)
    room = selectors.room_by_slug(slug)
    before = selectors.membership_of(room=room, member=member, user=user)
    membership = services.membership_join(
        room=room, agreement_version=version, member=member, user=user
    )
    return JsonResponse(
        {
            "slug": room.slug,
            "pseudonym": membership.pseudonym,
            "role": membership.role,
            # A first join: the page offers "give me another name" before going in.
            "new": before is None,
        }
    )


@require_POST
@api_view
def room_rename(request: HttpRequest, slug: str) -> JsonResponse:
    """ "Give me another name" before going in: a new random pseudonym for this room."""
    member = _require_member(request)
    room, _ = entry.room_for(slug=slug, member=member, user=None)
    membership = services.membership_rename(room=room, member=member)
    return JsonResponse({"slug": room.slug, "pseudonym": membership.pseudonym})


@require_POST
@api_view
def invite_redeem(request: HttpRequest) -> JsonResponse:
    code = _field(_body(request), "code", str)
    member, user = _require_caller(request)
    membership = services.invite_redeem(code=code, member=member, user=user)
    return JsonResponse({"slug": membership.room.slug, "pseudonym": membership.pseudonym})


@require_GET
@api_view
def room_messages(request: HttpRequest, slug: str) -> HttpResponse:
    member, user = _require_caller(request)
    room = selectors.room_by_slug(slug)
    services.membership_authorize(room=room, member=member, user=user)
    try:
        before = int(request.GET["before"]) if "before" in request.GET else None
        limit = min(int(request.GET.get("limit", settings.CHAT_HISTORY_PAGE)), 200)
    except ValueError:
        raise BadRequest("before and limit must be whole numbers") from None
    if limit < 1:
        raise BadRequest("limit must be at least 1")
    page = selectors.log_before(room_id=room.pk, before=before, limit=limit, fits=page_fits())
    text = protocol.encode(protocol.history_page(page.entries, page.has_more))
    return HttpResponse(text, content_type="application/json")


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    """CSRF refusals as JSON, so clients get a machine-readable code, not an HTML page."""
    return error_response("csrf_failed", "missing or wrong X-CSRFToken header", 403)


@require_http_methods(["DELETE"])
@api_view
def me(request: HttpRequest) -> HttpResponse:
    """ "Delete all my data": the member's data keys are destroyed, so their messages cannot
    be read from the database or any backup taken after key backups expire; their sockets
    close and the session ends. The client asks the person to confirm first."""
    from rooms.keys import member_erase

    member = _require_member(request)
    if _body(request).get("confirm") is not True:
        return error_response(
            "confirmation_required",
            'this cannot be undone: send {"confirm": true} to erase your data',
            400,
        )
    member_erase(member=member, actor="member:self")
    request.session.flush()
    return HttpResponse(status=204)
