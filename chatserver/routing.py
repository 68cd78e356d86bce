from django.urls import path

from moderation.consumers import StaffConsumer
from rooms.consumers import RoomConsumer

websocket_urlpatterns = [
    path("ws/rooms/<slug:slug>/", RoomConsumer.as_asgi()),
    path("ws/staff/", StaffConsumer.as_asgi()),
]
