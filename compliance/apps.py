from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = _("LGPD e auditoria")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from compliance.audit import on_user_logged_in

        # Logins are Django's own event (no service of ours runs): the one signal we use.
        user_logged_in.connect(on_user_logged_in, dispatch_uid="compliance_audit_login")
