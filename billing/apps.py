from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Conta e planos")

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_save

        from billing.api import auth

        # Passwords change in Django's own code (admin forms, changepassword): a signal is
        # the one place that sees them all.
        post_save.connect(
            auth.on_user_saved,
            sender=get_user_model(),
            dispatch_uid="billing_revoke_api_sessions_on_password_change",
        )
