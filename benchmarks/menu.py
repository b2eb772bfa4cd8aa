"""The menu flow's conversations: what the benchmark's customers send (signed webhooks, four
messages each) and which reply each message should get, for the load generator
(benchmarks/load.py) and the matching of replies (benchmarks/scenarios/e2e.py)."""

from __future__ import annotations

import math
import time

from benchmarks import load

MENU_REPLY = "interactive"  # the greeting with three reply buttons
INFO_REPLY = "text"  # the opening-hours text
INFO_BUTTON = ("info", "Horário e endereço")


def sender_for(tag_no: int, n: int) -> str:
    """A Brazilian mobile number; its last 8 digits (run number + customer) are unique."""
    return f"55119{tag_no % 100:02d}{n:06d}"


def key_of(digits: str) -> str:
    return digits[-8:]


def menu_conversations(
    pnid: str, secret: str, *, tag: str, count: int, per_customer: int = 4
) -> list[load.Item]:
    """`count` messages from count/per_customer customers, each saying "oi", tapping the
    hours button, typing "menu", tapping it again: one reply each (menu, text, menu, text).
    A customer's messages are `customers` positions apart in the schedule (seconds apart),
    and carry increasing timestamps (one second apart), as a phone's would: the engine
    orders a customer's messages by them, whatever order the webhooks arrive in."""
    tag_no = int(tag[-3:])
    customers = max(1, math.ceil(count / per_customer))
    t0 = int(time.time())
    items = []
    for i in range(count):
        j, c = divmod(i, customers)
        sender = sender_for(tag_no, c)
        mid = f"wamid.BENCH.{tag}.{i:07d}"
        ts = t0 + j
        if j % 2 == 0:
            payload = load.text_payload(
                pnid, sender=sender, body="oi" if j == 0 else "menu", mid=mid, ts=ts
            )
        else:
            payload = load.reply_payload(
                pnid,
                sender=sender,
                kind="button_reply",
                reply_id=INFO_BUTTON[0],
                title=INFO_BUTTON[1],
                mid=mid,
                ts=ts,
            )
        items.append(load.item(payload, secret, key=key_of(sender), seq=j))
    return items


def expected_kind(seq: int) -> str:
    return MENU_REPLY if seq % 2 == 0 else INFO_REPLY
