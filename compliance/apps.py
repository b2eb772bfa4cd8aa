from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = _("LGPD e auditoria")

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from billing import services as billing_services
        from chatbots import outbox
        from clientes import services as clientes_services
        from compliance import audit, consent

        # Logins are Django's (and django-axes') own events: no service of ours runs, so
        # these are the signals we use.
        user_logged_in.connect(audit.on_user_logged_in, dispatch_uid="compliance_audit_login")
        user_login_failed.connect(
            audit.on_user_login_failed, dispatch_uid="compliance_audit_login_failed"
        )
        user_locked_out.connect(audit.on_user_locked_out, dispatch_uid="compliance_audit_locked")
        # Billing and clientes sit below compliance in the layers: they call these hooks.
        billing_services.audit_writer_register(audit.record)
        clientes_services.cliente_created_hook_register(consent.cliente_honour_markers)
        # A proactive message to a customer who opted out is refused before it is queued.
        outbox.register_gate(
            consent.proactive_gate, stage=outbox.QUEUE, many=consent.proactive_gate_many
        )
