"""No HTTP views: the baseline speaks websocket only."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
