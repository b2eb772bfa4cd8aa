from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = _("LGPD e auditoria")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from chatbots import outbox
        from compliance.audit import on_user_logged_in
        from compliance.consent import proactive_gate

        # Logins are Django's own event (no service of ours runs): the one signal we use.
        user_logged_in.connect(on_user_logged_in, dispatch_uid="compliance_audit_login")
        # A proactive message to a customer who opted out is refused before it is queued.
        outbox.register_gate(proactive_gate, stage=outbox.QUEUE)
