"""Staff sessions of the API: log in, refresh, log out, and revocation on a password change.

* `POST /api/auth/token/` {"username", "password"} -> {"access", "refresh"}. Throttled (scope
  `token`) and behind the login lockout shared with the admin (config.logins): while locked,
  429 with a pt-BR `detail` saying when to try again, even for the right password.
* `POST /api/auth/token/refresh/` {"refresh"} -> a new `access` and a new `refresh`; the one
  sent is blacklisted (ROTATE_REFRESH_TOKENS + BLACKLIST_AFTER_ROTATION), so each refresh
  token works once.
* `POST /api/auth/logout/` {"refresh"} -> 204; that refresh token is blacklisted.
* Any password change (admin, `changepassword`, anything that calls `set_password` and
  saves) blacklists every refresh token of the user; access tokens carry a hash of the
  password (simplejwt's CHECK_REVOKE_TOKEN) and stop working at once.
"""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework_simplejwt import views as jwt_views
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from config import logins


class TokenObtainView(jwt_views.TokenObtainPairView):
    """Staff login for the API: throttled and locked out like the admin login."""

    throttle_scope = "token"

    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except exceptions.AuthenticationFailed:
            # authenticate() got this DRF request, so axes marked it (not the HttpRequest
            # that axes' middleware looks at): answer the lockout here.
            if getattr(request, "axes_locked_out", False):
                payload = logins.lockout_payload(
                    request, getattr(request, "axes_credentials", None)
                )
                return Response(
                    payload,
                    status=logins.LOCKED_STATUS,
                    headers={"Retry-After": str(payload["retry_after"])},
                )
            raise
        user = serializer.user
        # The same event as an admin login: the audit log records it, last_login moves.
        user_logged_in.send(sender=type(user), request=request, user=user)
        return Response(serializer.validated_data, status=status.HTTP_200_OK)


class TokenRefreshView(jwt_views.TokenRefreshView):
    """A new pair for a refresh token, which is then blacklisted."""

    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except ObjectDoesNotExist:  # simplejwt looks the user up and lets a deleted one through
            raise InvalidToken(_("O usuário deste token não existe mais.")) from None


class LogoutView(jwt_views.TokenBlacklistView):
    """Log out of the API: the refresh token sent stops working."""

    @extend_schema(responses={204: None})
    def post(self, request, *args, **kwargs):
        super().post(request, *args, **kwargs)
        return Response(status=status.HTTP_204_NO_CONTENT)


def user_refresh_tokens_revoke(*, user) -> int:
    """Blacklist every unexpired refresh token of `user`; returns how many were added."""
    outstanding = OutstandingToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    created = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
    return len(created)


def on_user_saved(sender, instance, created: bool, update_fields=None, **kwargs) -> None:
    """post_save of the user model: a new (or a disabled) password revokes the user's API
    sessions.

    `set_password()` keeps the new raw password in `_password` until the save that stores
    it (Django's AbstractBaseUser.save then tells the password validators): that tells a
    change apart from other saves, including the re-hash of the same password that
    `check_password()` does after a hasher upgrade (it clears `_password` first). An
    unusable password (the admin's "disable password") revokes too; doing it again finds
    nothing left to revoke.
    """
    if created or (update_fields is not None and "password" not in update_fields):
        return
    if getattr(instance, "_password", None) is None and instance.has_usable_password():
        return
    user_refresh_tokens_revoke(user=instance)
