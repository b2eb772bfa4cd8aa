"""What the stack's processes used during a run: CPU per answered request and the cores other
processes took (from the snapshots of harness.Bench.cpu_snapshot), resident memory, and the
closed-loop runs one gunicorn worker carried alone, which are run again."""

from __future__ import annotations

from benchmarks import stack
from benchmarks.harness import Bench, median
from benchmarks.stack import log

# A closed-loop run whose busiest gunicorn worker used more than this share of the web's
# CPU had (nearly) all its keep-alive connections accepted by one worker.
UNBALANCED_SHARE = 0.8
UNBALANCED_TRIES = 4


def balanced_run(proc: stack.Proc, one_run) -> dict:
    """`one_run()` again (up to UNBALANCED_TRIES times) while one gunicorn worker took
    (nearly) all the connections.

    The closed loop opens its 16 keep-alive connections at once, and which worker accepts
    each is a race between the two workers' accept loops: now and then one worker wins them
    all and carries the run on one core while the other idles (the floor measured ~1,500
    instead of ~3,800 req/s). Production traffic opens and closes connections all the time,
    so this is about measuring the machine, not a limit of it. Discarded runs are counted in
    the result (`unbalanced_discarded`)."""
    discarded = 0
    while True:
        kids = stack.children(proc.pid)
        before = {pid: stack.cpu_seconds(pid) for pid in kids}
        result = one_run()
        used = [stack.cpu_seconds(pid) - before[pid] for pid in kids]
        total = sum(used)
        share = max(used) / total if total > 0 and used else 1.0
        if share <= UNBALANCED_SHARE or discarded + 1 >= UNBALANCED_TRIES:
            return {**result, "unbalanced_discarded": discarded, "busiest_worker_share": share}
        discarded += 1
        log(f"{proc.name}: one worker took {share:.0%} of the run's CPU; run again")


def cpu_per_request(before: dict, after: dict, answered: int, *, web: str = "gunicorn") -> dict:
    """CPU milliseconds per answered request: the web server, PostgreSQL, Redis, the load
    generator, and all of the machine's busy time (`cpu_machine`, other processes included)."""
    n = max(answered, 1)

    def ms(name: str) -> float:
        return (after.get(name, 0.0) - before.get(name, 0.0)) * 1000 / n

    out = {
        "cpu_web": ms(web),
        "cpu_postgres": ms("postgres"),
        "cpu_redis": ms("redis"),
        "cpu_load": ms("load generator"),
    }
    out["cpu_total"] = sum(out.values())
    out["cpu_machine"] = ms("_machine")
    return out


def gunicorn_worker_rss(proc: stack.Proc) -> float:
    return median([stack.rss_mb(p) for p in stack.children(proc.pid)])


def other_cores(before: dict, after: dict) -> float:
    """Cores' worth of CPU that processes outside the benchmark used during the run (the
    machine's busy time minus the stack's own): how much the figures were disturbed."""
    elapsed = max(after["_time"] - before["_time"], 1e-9)
    ours = sum(after[k] - before.get(k, 0.0) for k in after if not k.startswith("_"))
    return max(0.0, (after["_machine"] - before["_machine"] - ours) / elapsed)


def process_memory(b: Bench) -> dict:
    """Resident memory after the run: gunicorn workers and Celery pool processes."""
    out = {}
    if b.web is not None:
        out["gunicorn_worker_mb"] = gunicorn_worker_rss(b.web)
        out["gunicorn_master_mb"] = stack.rss_mb(b.web.pid)
    for proc in b.workers:
        kids = stack.children(proc.pid)
        out[f"{proc.name}_main_mb"] = stack.rss_mb(proc.pid)
        if kids:  # prefork: the pool's processes (a threads pool has none)
            out[f"{proc.name}_child_mb"] = median([stack.rss_mb(p) for p in kids])
            out[f"{proc.name}_children"] = len(kids)
    return out
