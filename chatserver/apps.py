from django.apps import AppConfig


class ChatserverConfig(AppConfig):
    name = "chatserver"

    def ready(self) -> None:
        from chatserver import checks  # noqa: F401  (registers system checks)
