"""Which tenant a staff member works for in the staff app (pages and WebSocket alike).

A user in one tenant works for it; a user in several picks one in /atendimento/, kept in the
session under SESSION_KEY, which the socket (same session cookie) reads too.
"""

from __future__ import annotations

from billing.models import Membership

SESSION_KEY = "staff_tenant_id"


def staff_memberships(user):
    return (
        Membership.objects.filter(user=user, tenant__active=True, user__is_active=True)
        .select_related("tenant", "user")
        .order_by("tenant__name")
    )


def staff_membership(user, session) -> Membership | None:
    """The membership the user acts with, or None (not a member, or several and none picked)."""
    if not getattr(user, "is_authenticated", False):
        return None
    memberships = staff_memberships(user)
    chosen = session.get(SESSION_KEY) if session is not None else None
    if chosen:
        picked = memberships.filter(tenant_id=chosen).first()
        if picked is not None:
            return picked
    first_two = list(memberships[:2])
    return first_two[0] if len(first_two) == 1 else None
