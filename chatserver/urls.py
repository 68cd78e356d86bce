from django.contrib import admin
from django.urls import path

from chatserver import pages
from moderation import api as staff_api
from rooms import api

urlpatterns = [
    path("", pages.index, name="index"),
    path("staff/", pages.staff, name="staff"),
    path("healthz", api.healthz, name="healthz"),
    path("api/session", api.session, name="api-session"),
    path("api/session/recover", api.session_recover, name="api-session-recover"),
    path("api/session/phrase", api.session_new_phrase, name="api-session-phrase"),
    path("api/session/exit-explained", api.session_exit_explained, name="api-session-exit"),
    path("api/me", api.me, name="api-me"),
    path("api/rooms", api.room_list, name="api-rooms"),
    path("api/rooms/<slug:slug>", api.room_detail, name="api-room"),
    path("api/rooms/<slug:slug>/join", api.room_join, name="api-room-join"),
    path("api/rooms/<slug:slug>/pseudonym", api.room_rename, name="api-room-rename"),
    path("api/rooms/<slug:slug>/messages", api.room_messages, name="api-room-messages"),
    path("api/invites/redeem", api.invite_redeem, name="api-invite-redeem"),
    path("api/help", staff_api.help_resources, name="api-help"),
    path("api/staff/login", staff_api.staff_login, name="api-staff-login"),
    path("api/staff/logout", staff_api.staff_logout, name="api-staff-logout"),
    path("api/staff/otp/confirm", staff_api.staff_otp_confirm, name="api-staff-otp-confirm"),
    path(
        "api/staff/logout-everywhere",
        staff_api.staff_logout_everywhere,
        name="api-staff-logout-everywhere",
    ),
    path("api/staff/debriefs", staff_api.debrief_file, name="api-staff-debriefs"),
    path("api/staff/name", staff_api.staff_name, name="api-staff-name"),
    path("api/figures", staff_api.figures, name="api-figures"),
    path("figures/", staff_api.figures_page, name="figures"),
    path("admin/", admin.site.urls),
]
