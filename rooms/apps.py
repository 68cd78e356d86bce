from django.apps import AppConfig


class RoomsConfig(AppConfig):
    name = "rooms"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from rooms import policies, signals  # noqa: F401  (signals connects the receivers)
        from rooms.themes import ThemesPolicy

        # The chat core's own step of the send path comes first (rooms/policies.py); the
        # apps built on it append theirs when they start.
        policies.install(ThemesPolicy())
