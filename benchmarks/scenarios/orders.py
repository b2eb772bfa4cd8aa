"""4. orders: many customers completing the order flow at once, each message sent as soon as
the previous one's replies arrived (a watcher polls the fake Graph API for them)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict

from benchmarks import load
from benchmarks.harness import Bench, machine_load, median, median_dicts
from benchmarks.menu import key_of, sender_for
from benchmarks.stack import log


def order_script(b: Bench) -> list[tuple[str, tuple]]:
    """The order flow as a customer goes through it (chatbots/tests/test_flow_pedidos.py):
    greet, pick a category, pick a product, say how many, finish, pickup, card, no notes,
    confirm (the profile name is known, so the name is not asked)."""
    from pedidos.models import Categoria, Produto

    cat = Categoria.objects.get(tenant_id=b.seeded.tenant_id, nome="Pizzas")
    prod = Produto.objects.get(tenant_id=b.seeded.tenant_id, nome="Pizza Margherita")
    return [
        ("text", ("oi",)),
        ("list_reply", (f"cat:{cat.pk}", "Pizzas")),
        ("list_reply", (f"prod:{prod.pk}", "Pizza Margherita")),
        ("text", ("2",)),
        ("button_reply", ("pedido:finalizar", "Finalizar")),
        ("button_reply", ("pedido:retirada", "Retirada")),
        ("list_reply", ("pay:cartao", "Cartão na retirada")),
        ("button_reply", ("pedido:sem_obs", "Sem observações")),
        ("button_reply", ("pedido:confirmar", "Confirmar")),
    ]


def _order_payload(pnid: str, sender: str, step: tuple[str, tuple], mid: str, ts: int) -> dict:
    kind, args = step
    if kind == "text":
        return load.text_payload(pnid, sender=sender, body=args[0], mid=mid, ts=ts)
    return load.reply_payload(
        pnid, sender=sender, kind=kind, reply_id=args[0], title=args[1], mid=mid, ts=ts
    )


class ReplyWatcher:
    """Polls the fake Graph and wakes up whoever waits for a customer's n-th reply."""

    def __init__(self, b: Bench, pnid: str) -> None:
        self.b, self.pnid = b, pnid
        self.since = b.graph_stats(10**9)["total"]
        self.replies: dict[str, list[tuple[float, str, str]]] = defaultdict(list)
        self.changed = asyncio.Event()
        self.stop = False

    async def poll(self) -> None:
        conn = load._Conn("127.0.0.1", self.b.graph_port)
        while not self.stop:
            body = await conn.get(f"/__bench/stats?since={self.since}")
            doc = json.loads(body)
            if doc["sends"]:
                self.since += len(doc["sends"])
                for t, digits, pnid, kind, text in doc["sends"]:
                    if pnid == self.pnid:
                        self.replies[key_of(digits)].append((t, kind, text))
                self.changed.set()
                self.changed = asyncio.Event()
            await asyncio.sleep(0.02)
        conn.close()

    async def wait_for(self, key: str, n: int, timeout: float) -> float | None:
        """Time of the customer's n-th reply (1-based), once it arrived; None on timeout."""
        if n <= 0:
            return time.time()
        deadline = time.time() + timeout
        while len(self.replies[key]) < n:
            left = deadline - time.time()
            if left <= 0:
                return None
            try:
                await asyncio.wait_for(self.changed.wait(), timeout=left)
            except TimeoutError:
                return None
        return self.replies[key][n - 1][0]

    async def settle(self, key: str, quiet: float = 1.5) -> int:
        """Wait until the customer got nothing new for `quiet` seconds; how many so far."""
        seen, last = len(self.replies[key]), time.time()
        while time.time() - last < quiet:
            await asyncio.sleep(0.05)
            if len(self.replies[key]) != seen:
                seen, last = len(self.replies[key]), time.time()
        return seen


async def _conversations(b: Bench, script, customers: int, tag: str) -> dict:
    pnid, secret = b.seeded.order_pnid, b.seeded.app_secret
    watcher = ReplyWatcher(b, pnid)
    poller = asyncio.create_task(watcher.poll())
    tag_no = int(tag[-3:])
    port = b.web_port

    async def say(conn, sender, i, step, ts):
        payload = _order_payload(pnid, sender, step, f"wamid.BENCH.{tag}.{sender}.{i}", ts)
        it = load.item(payload, secret)
        request = load._request_bytes("127.0.0.1", port, load.WEBHOOK_PATH, it)
        run = load.Run()
        sent = time.time()
        status = await load._send(conn, request, run)
        return sent, status

    # A pilot customer first: how many replies each step gets (waits until quiet).
    pilot = sender_for(tag_no, 999_999)
    conn = load._Conn("127.0.0.1", port)
    expected = []
    t0 = int(time.time())
    for i, step in enumerate(script):
        await say(conn, pilot, i, step, t0 + i)
        # Every step is answered; the first answer can take longer than settle's quiet time
        # (the burst window, CHATBOT_DEBOUNCE_MS, holds a reply ~1.5 s), so wait for it first.
        before = len(watcher.replies[key_of(pilot)])
        await watcher.wait_for(key_of(pilot), before + 1, timeout=30)
        expected.append(await watcher.settle(key_of(pilot)))
    conn.close()
    cumulative = expected  # replies after each step, counted from the start

    step_latencies: list[float] = []
    durations: list[float] = []
    stuck = 0
    errors = 0

    async def customer(c: int) -> None:
        nonlocal stuck, errors
        sender = sender_for(tag_no, c)
        key = key_of(sender)
        conn = load._Conn("127.0.0.1", port)
        started = time.time()
        try:
            for i, step in enumerate(script):
                sent, status = await say(conn, sender, i, step, t0 + 10 + i)
                if status != 200:
                    errors += 1
                    return
                got = await watcher.wait_for(key, cumulative[i], timeout=60)
                if got is None:
                    stuck += 1
                    return
                step_latencies.append((got - sent) * 1000)
            durations.append(time.time() - started)
        finally:
            conn.close()

    began = time.time()
    await asyncio.gather(*(customer(c) for c in range(customers)))
    elapsed = time.time() - began
    await asyncio.sleep(1.0)  # duplicates would arrive now
    watcher.stop = True
    await poller
    extra = sum(
        max(0, len(watcher.replies[key_of(sender_for(tag_no, c))]) - cumulative[-1])
        for c in range(customers)
    )
    last_texts = [
        watcher.replies[key_of(sender_for(tag_no, c))][-1][2]
        for c in range(customers)
        if watcher.replies[key_of(sender_for(tag_no, c))]
    ]
    return {
        "customers": customers,
        "messages": customers * len(script),
        "replies_per_order": cumulative[-1],
        "completed": len(durations),
        "stuck": stuck,
        "errors": errors,
        "duplicated": extra,
        "elapsed": elapsed,
        "orders_per_min": len(durations) / elapsed * 60,
        "messages_per_s": len(durations) * len(script) / elapsed,
        "step_p50": load.percentile(step_latencies, 50),
        "step_p95": load.percentile(step_latencies, 95),
        "step_p99": load.percentile(step_latencies, 99),
        "order_p50_s": median(durations),
        "last_reply_sample": last_texts[0] if last_texts else "",
        "senders": [sender_for(tag_no, c) for c in range(customers)],
    }


def scenario_orders(b: Bench) -> dict:
    from pedidos.models import Pedido
    from pedidos.status import StatusPedido

    b.start_web()
    b.start_workers()
    script = order_script(b)
    runs = []
    for _ in range(b.opts.runs):
        b.wait_idle()
        tag = b.run_tag("ord")
        before = machine_load()
        figures = asyncio.run(_conversations(b, script, b.opts.order_customers, tag))
        senders = figures.pop("senders")
        figures["confirmed_in_db"] = Pedido.objects.filter(
            tenant_id=b.seeded.tenant_id,
            status=StatusPedido.CONFIRMADO,
            cliente__telefone__in=senders,
        ).count()
        figures["load_before"], figures["load_after"] = before, machine_load()
        log(
            f"orders: {figures['completed']}/{figures['customers']} completed in "
            f"{figures['elapsed']:.1f} s, step p95 {figures['step_p95']:.0f} ms, "
            f"{figures['confirmed_in_db']} confirmed in the database"
        )
        runs.append(figures)
    out = median_dicts(runs)
    out["stuck_total"] = sum(r["stuck"] for r in runs)
    out["duplicated_total"] = sum(r["duplicated"] for r in runs)
    return out
