"""Celery tasks of the messaging core (thin: take ids, claim work, call one service)."""
