"""Query filters every API shares."""

from __future__ import annotations

from datetime import UTC

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _


class UtcIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date and time, handed to the database in UTC.

    Python takes offsets up to ±23:59 while PostgreSQL's timestamptz stops at ±15:59
    (PostgreSQL: https://www.postgresql.org/docs/current/datatype-datetime.html), so
    `2000-01-01T00:00:00-20:00` went to the database as given and failed there; in UTC it
    is an ordinary instant. A time that has no UTC instant (year 1 at +20:00) is a 400.
    """

    default_error_messages = {
        "overflow": _("Data e hora fora do intervalo que o servidor aceita."),
    }

    def to_python(self, value):
        try:
            value = super().to_python(value)
        except OverflowError:  # a naive time at the edge of the calendar, made aware
            raise forms.ValidationError(self.error_messages["overflow"], code="overflow") from None
        if value is None or value.tzinfo is None:
            return value
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError(self.error_messages["overflow"], code="overflow") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField
