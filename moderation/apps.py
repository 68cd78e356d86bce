from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "moderation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Plug moderation into the chat core, which does not import it: the send path's
        policies, the entry check, and the room socket's moderation frames."""
        from moderation import policies, room_frames
        from rooms import policies as chain

        # The order is the order they run in, after the core's own themes step: a message
        # a policy holds back still raises its escalation (holding is about what the room
        # sees, never about silencing someone at risk).
        chain.install(policies.HeldTermsPolicy(), policies.RiskEscalationPolicy())
        chain.install_entry_check(policies.facilitator_training_check)
        room_frames.install()
