"""Admin pagination for tables that grow without bound (messages, inbound events, the audit
log, consent events). Every app's admin may use it; it imports nothing of theirs."""

from __future__ import annotations

from functools import cached_property

from django.core.paginator import Paginator
from django.db import connection


class LargeTablePaginator(Paginator):
    """Pagination without COUNT(*) over a big table.

    Unfiltered on PostgreSQL, the count is the planner's estimate (pg_class.reltuples, kept
    by autovacuum/ANALYZE). Otherwise it is capped: COUNT over at most COUNT_CAP rows, so a
    tenant with millions of messages costs the same as one with ten thousand; filters and
    search narrow a list further.
    """

    COUNT_CAP = 10_000

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if connection.vendor == "postgresql" and not qs.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                    [connection.ops.quote_name(qs.model._meta.db_table)],
                )
                row = cursor.fetchone()
            # -1 (or nothing) until the table is first analyzed; small tables count exactly.
            if row and row[0] > self.COUNT_CAP:
                return int(row[0])
        return qs.order_by().values("pk")[: self.COUNT_CAP].count()
