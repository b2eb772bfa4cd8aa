from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = _("LGPD e auditoria")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from billing import services as billing_services
        from chatbots import outbox
        from clientes import services as clientes_services
        from compliance import audit, consent

        # Logins are Django's own event (no service of ours runs): the one signal we use.
        user_logged_in.connect(audit.on_user_logged_in, dispatch_uid="compliance_audit_login")
        # Billing and clientes sit below compliance in the layers: they call these hooks.
        billing_services.audit_writer_register(audit.record)
        clientes_services.cliente_created_hook_register(consent.cliente_honour_markers)
        # A proactive message to a customer who opted out is refused before it is queued.
        outbox.register_gate(consent.proactive_gate, stage=outbox.QUEUE)
