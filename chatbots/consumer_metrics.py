"""Metrics of the reply path's long-running consumers (`run_processor`, `run_sender`).

What each did is counted where it happens (chatbot_messages_processed_total in the engine,
chatbot_outbound_sent_total / _failed_total in chatbots.outbox.sending); these add how the
batches go: their sizes, and the ones that had to be tried again. Each consumer serves them
on METRICS_PORT or through the web's /metrics (config/process_metrics.py).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

BATCH_SIZE = Histogram(
    "chatbot_consumer_batch_size",
    "Work done per batch that found any (processor: turns answered plus statuses applied; "
    "sender: outbound rows claimed)",
    ["process"],
    # PROCESSOR_BATCH and SENDER_BATCH default to a few dozen; a full batch means a backlog.
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
ERRORS = Counter(
    "chatbot_consumer_errors_total",
    "Consumer trouble: database (a batch tried again after the database failed), internal "
    "(a bug in a round), poisoned (events failed alone because they cannot be processed)",
    ["process", "kind"],
)


def batch_done(process: str, size: int, *, poisoned: int = 0) -> None:
    if size:
        BATCH_SIZE.labels(process=process).observe(size)
    if poisoned:
        ERRORS.labels(process=process, kind="poisoned").inc(poisoned)


def batch_failed(process: str, kind: str) -> None:
    ERRORS.labels(process=process, kind=kind).inc()
