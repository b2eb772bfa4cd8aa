"""What a sender's round asks once for all its rows instead of once per send: the SEND gates
(each through its `many`, chatbots.outbox.gates) and the per-number governor's tokens (one
take per bot, chatbots.ratelimit). Each was a Redis round trip per send.

A round lasts tens of milliseconds, so a gate's answer taken at its start is as fresh as
one taken just before each send. Tokens taken for rows that did not go (held back behind a
retry, a payload that failed) are given back when the round ends, so a number at its rate
limit loses none of its slots. If anything here fails (Redis away), the round goes without
it and each send asks for itself, with that path's error handling (sending.attempt).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

from chatbots.models import Chatbot, Conversation, Message
from chatbots.outbox import gates
from chatbots.outbox.sending import outgoing_of
from chatbots.ratelimit import Grant, chatbot_give_back_tokens, chatbot_take_tokens

logger = logging.getLogger(__name__)


class Round:
    """The gates' answers and the tokens of one round. Thread-safe."""

    def __init__(self, runs: list[tuple[Conversation | None, list[Message]]]) -> None:
        pairs = [(row, c) for c, group in runs if c is not None for row in group]
        refusals = gates.refusals(gates.SEND, [outgoing_of(c) for _row, c in pairs])
        self._refused = {
            row.pk: refused for (row, _c), refused in zip(pairs, refusals, strict=True)
        }
        self._bots: dict[int, Chatbot] = {c.chatbot_id: c.chatbot for _row, c in pairs}
        wanted = Counter(
            c.chatbot_id for (_row, c), refused in zip(pairs, refusals, strict=True) if not refused
        )
        self._lock = threading.Lock()
        self._tokens: dict[int, list] = {}  # bot id -> [tokens left, wait for the next]
        for bot_id, count in wanted.items():
            granted, wait = chatbot_take_tokens(chatbot=self._bots[bot_id], count=count)
            self._tokens[bot_id] = [granted, wait]

    @classmethod
    def prepare(cls, runs: list[tuple[Conversation | None, list[Message]]]) -> Round | None:
        try:
            return cls(runs)
        except Exception:
            logger.warning("sender round could not be prepared; each send asks", exc_info=True)
            return None

    def refusal(self, row: Message) -> gates.Refusal | None:
        return self._refused.get(row.pk)

    def grant(self, chatbot: Chatbot) -> Grant:
        """One of the round's tokens of the bot's number, or how long until the next one."""
        with self._lock:
            tokens = self._tokens[chatbot.pk]  # every bot of the round's unrefused rows
            if tokens[0] > 0:
                tokens[0] -= 1
                return Grant(allowed=True)
            return Grant(allowed=False, wait=tokens[1])

    def close(self) -> None:
        """Give back the tokens no send used."""
        for bot_id, (left, _wait) in self._tokens.items():
            if left > 0:
                try:
                    chatbot_give_back_tokens(chatbot=self._bots[bot_id], count=left)
                except Exception:
                    logger.warning("sender could not give tokens back", exc_info=True)
        self._tokens = {}
