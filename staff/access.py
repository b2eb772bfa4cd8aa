"""Who may use the staff pages: a logged-in member of an active tenant (staff.tenancy)."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render
from django.urls import reverse

from staff import tenancy


def staff_required(view):
    """Sets `request.membership`; sends visitors to the staff login and people in several
    tenants to the tenant picker."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("staff:login"))
        membership = tenancy.staff_membership(request.user, request.session)
        if membership is None:
            if tenancy.staff_memberships(request.user).exists():
                return redirect("staff:tenant")
            return render(request, "staff/no_tenant.html", status=403)
        request.membership = membership
        return view(request, *args, **kwargs)

    return wrapper
