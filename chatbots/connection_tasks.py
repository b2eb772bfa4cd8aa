"""The periodic connection check of every number (chatbots.connection.connections_check)."""

from __future__ import annotations

from celery import shared_task

from chatbots import connection


@shared_task(name="chatbots.connection_tasks.bulk_check_connections")
def bulk_check_connections() -> dict[str, int]:
    return connection.connections_check()
