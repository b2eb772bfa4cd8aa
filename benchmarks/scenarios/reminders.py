"""5. reminders: the reminder job over 100,000 and 1,000,000 appointments with few due, in
this process: its time, its SQL statements, and whether the selector uses its index."""

from __future__ import annotations

import math
import re
import time

from benchmarks import seed
from benchmarks.harness import Bench, median
from benchmarks.stack import log


def scenario_reminders(b: Bench) -> dict:
    from django.db import connection
    from django.utils import timezone

    from agenda import selectors

    try:
        from agenda.tasks import bulk_send_reminders

        task_name = "agenda.tasks.bulk_send_reminders"
    except ImportError:  # the task is not there yet: the selector and the claim
        bulk_send_reminders = None
        task_name = "agenda.selectors.agendamento_list_reminder_due + services.lembrete_claim"
    out: dict = {"task": task_name, "sizes": []}
    sizes = list(b.opts.reminder_sizes)
    plan = [(size, b.opts.reminder_due) for size in sizes]
    plan.append((sizes[-1], b.opts.reminder_due * 10))  # same table, ten times the due rows
    for size, due in plan:
        gen = seed.appointments_generate(total=size, due=due, seeded=b.seeded)
        timings, queries, sent = [], [], []
        for _ in range(b.opts.runs):
            seed.reminders_reset(seeded=b.seeded)
            counter = _QueryCounter()
            with connection.execute_wrapper(counter):
                started = time.perf_counter()
                if bulk_send_reminders is not None:
                    result = bulk_send_reminders()
                else:
                    result = _claim_due()
                timings.append(time.perf_counter() - started)
            queries.append(counter.count)
            sent.append(sum(result.values()) if isinstance(result, dict) else result)
        agora = timezone.now()
        qs = selectors.agendamento_list_reminder_due(tipo="24h", agora=agora)
        plan_text = qs.explain(analyze=True)
        exec_ms = re.search(r"Execution Time: ([\d.]+) ms", plan_text)
        out["sizes"].append(
            {
                "rows": gen["rows"],
                "due": gen["due"],
                "generate_s": gen["seconds"],
                "task_s": median(timings),
                "per_due_ms": median(timings) * 1000 / max(median(sent), 1),
                "queries": median(queries),
                "sent": median(sent),
                "selector_ms": float(exec_ms[1]) if exec_ms else math.nan,
                "uses_index": "agenda_lembrete_24h_idx" in plan_text,
            }
        )
        log(
            f"reminders: {gen['rows']} rows, {gen['due']} due: {median(timings) * 1000:.0f} ms, "
            f"{median(queries)} queries"
        )
    seed.reminders_reset(seeded=b.seeded)
    return out


class _QueryCounter:
    """A connection.execute_wrapper that counts statements (no DEBUG, no size limit)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def _claim_due() -> int:
    from django.utils import timezone

    from agenda import selectors, services

    agora = timezone.now()
    claimed = 0
    for tipo in selectors.REMINDERS:
        for ag in selectors.agendamento_list_reminder_due(tipo=tipo, agora=agora):
            claimed += services.lembrete_claim(agendamento_id=ag.pk, tipo=tipo, agora=agora)
    return claimed
