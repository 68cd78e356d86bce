"""Staff sign-in for the dashboard and the staff websocket (password, argon2-hashed).
Moderator, staff and admin accounts need a second factor before this is production-ready;
that, login throttling and lockout are part of the moderation work (docs/roles.md)."""

from __future__ import annotations

from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from moderation.audit import actor_for_user, audit_append
from rooms.api import _body, _field, api_view, error_response
from rooms.roles import role_for_user
from rooms.services import sockets_close_for_session


@require_POST
@api_view
def staff_login(request: HttpRequest) -> JsonResponse:
    data = _body(request)
    user = authenticate(
        request, username=_field(data, "username", str), password=_field(data, "password", str)
    )
    role = role_for_user(user)
    if user is None or role is None:
        return error_response("login_failed", "wrong username or password", 400)
    login(request, user)
    audit_append(
        actor=actor_for_user(user), action="staff.login", object_type="user", object_id=user.pk
    )
    return JsonResponse({"username": user.get_username(), "role": role})


@require_POST
@api_view
def staff_logout(request: HttpRequest) -> JsonResponse:
    user = request.user if request.user.is_authenticated else None
    session_key = request.session.session_key
    logout(request)
    if session_key:
        sockets_close_for_session(session_key)
    if user is not None:
        audit_append(
            actor=actor_for_user(user), action="staff.logout", object_type="user", object_id=user.pk
        )
    return JsonResponse({"username": None})
