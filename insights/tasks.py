"""Celery entry points on the `bulk` queue (config/celery.py routes `*.tasks.bulk_*`)."""

from __future__ import annotations

from celery import shared_task

from insights import segments


@shared_task
def bulk_refresh_segments() -> int:
    return segments.segments_refresh_all()
