"""Plays a scripted conversation (tests/conversations/*.yaml) through a bot's real webhook.

The format is described for business users in tests/conversations/README.md; this module
is its one reader. A script is checked before it runs (unknown keys, a missing "bot") so a
typo says which key and which file instead of passing silently.

Every script runs under a stopped clock (time-machine), by default on Monday 2030-03-04 at
10:00 in São Paulo, so "amanhã" and the times offered are always the same. The customer is
tests.conversation.CUSTOMER (Maria). What the bot "said" in a turn is read from the
provider's fake (Meta) or from the outbound rows (stub) and reduced to the same shape for
both: kind, text (the body the customer reads) and the options (buttons or list rows).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from django.utils import timezone

from chatbots.models import Conversation, Message
from tests import meta
from tests.conversation import CUSTOMER, Chat, next_timestamp

HERE = Path(__file__).parent
SP = ZoneInfo("America/Sao_Paulo")
DEFAULT_CLOCK = "2030-03-04 10:00"  # a Monday morning, the demo store open (pedidos.demo)
FLOWS = ("menu", "pedidos", "agenda")
PROVIDERS = ("meta", "stub")

SCRIPT_KEYS = {"title", "description", "bot", "given", "steps", "xfail", "providers"}
GIVEN_KEYS = {
    "clock",
    "options",
    "catalog",
    "store",
    "fees",
    "customer",
    "agenda",
    "knowledge",
    "gemini",
    "appointments",
}
# Money fields of an order compared as amounts ("5" is 5.00), not as text.
ORDER_MONEY = {"total", "taxa_entrega", "troco_para"}
ACTIONS = {"send", "tap", "location", "wait"}
EXPECT_KEYS = {
    "says",
    "not_says",
    "matches",
    "buttons",
    "rows",
    "rows_include",
    "rows_exclude",
    "silent",
    "step",
    "status",
    "handoff",
    "opted_out",
    "order",
    "appointment",
}
STATUSES = {s.value for s in Conversation.Status}


class ScriptError(ValueError):
    """A script that cannot be played as written: names the file, the step and the fix."""


# --- Reading ---------------------------------------------------------------------------------


@dataclass
class Script:
    path: Path
    title: str
    bot: str
    given: dict[str, Any]
    steps: list[dict[str, Any]]
    xfail: str = ""
    providers: tuple[str, ...] = PROVIDERS

    @property
    def name(self) -> str:
        return self.path.stem


def scripts() -> list[Script]:
    return [load(path) for path in sorted(HERE.glob("*.yaml"))]


def load(path: Path) -> Script:
    where = path.name

    def fail(message: str) -> ScriptError:
        return ScriptError(f"{where}: {message}")

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise fail(f"o YAML não se lê ({exc}); textos com ': ' vão entre aspas") from None

    if not isinstance(data, dict):
        raise fail("o arquivo deve ser um mapa com 'bot' e 'steps'")
    unknown = set(data) - SCRIPT_KEYS
    if unknown:
        raise fail(f"chave desconhecida {sorted(unknown)}; use {sorted(SCRIPT_KEYS)}")
    if data.get("bot") not in FLOWS:
        raise fail(f"'bot' deve ser um de {list(FLOWS)}")
    given = data.get("given") or {}
    if set(given) - GIVEN_KEYS:
        raise fail(f"'given' com chave desconhecida {sorted(set(given) - GIVEN_KEYS)}")
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        raise fail("'steps' deve ser uma lista com pelo menos um passo")
    for n, step in enumerate(steps, 1):
        if not isinstance(step, dict):
            raise fail(f"passo {n}: deve ser um mapa (send/tap/location/wait e expect)")
        actions = set(step) & ACTIONS
        if len(actions) != 1 or set(step) - ACTIONS - {"expect"}:
            raise fail(f"passo {n}: use exatamente uma de {sorted(ACTIONS)}, mais 'expect'")
        expect = step.get("expect") or {}
        if not isinstance(expect, dict) or set(expect) - EXPECT_KEYS:
            raise fail(f"passo {n}: 'expect' só aceita {sorted(EXPECT_KEYS)}")
        if "status" in expect and expect["status"] not in STATUSES:
            raise fail(f"passo {n}: 'status' deve ser um de {sorted(STATUSES)}")
    providers = tuple(data.get("providers") or PROVIDERS)
    if set(providers) - set(PROVIDERS):
        raise fail(f"'providers' só aceita {list(PROVIDERS)}")
    return Script(
        path=path,
        title=str(data.get("title") or path.stem),
        bot=data["bot"],
        given=given,
        steps=steps,
        xfail=str(data.get("xfail") or ""),
        providers=providers,
    )


def clock_start(script: Script) -> datetime:
    return datetime.fromisoformat(str(script.given.get("clock") or DEFAULT_CLOCK)).replace(
        tzinfo=SP
    )


# --- What the bot said, whatever the provider -------------------------------------------------


@dataclass
class Said:
    kind: str  # text, buttons, list, template, media
    text: str
    options: list[tuple[str, str]] = field(default_factory=list)  # (id, title)

    def __str__(self) -> str:
        opts = " | ".join(title for _id, title in self.options)
        return f"[{self.kind}] {self.text}" + (f"  <{opts}>" if opts else "")


def said_from(item) -> Said:
    """A Meta send body (dict) or a stub's outbound Message row, as the customer sees it."""
    if isinstance(item, Message):
        payload = item.payload or {}
        if item.type == "buttons":
            options = [(b["id"], b["title"]) for b in payload.get("buttons", [])]
            return Said("buttons", payload.get("body", ""), options)
        if item.type == "list":
            rows = [r for s in payload.get("sections", []) for r in s.get("rows", [])]
            return Said("list", payload.get("body", ""), [(r["id"], r["title"]) for r in rows])
        return Said(item.type, payload.get("body") or payload.get("caption") or item.text)
    kind = item.get("type")
    if kind == "text":
        return Said("text", item["text"]["body"])
    if kind == "interactive":
        inter = item["interactive"]
        body = inter.get("body", {}).get("text", "")
        if inter["type"] == "button":
            options = [(b["reply"]["id"], b["reply"]["title"]) for b in inter["action"]["buttons"]]
            return Said("buttons", body, options)
        rows = [r for s in inter["action"]["sections"] for r in s["rows"]]
        return Said("list", body, [(r["id"], r["title"]) for r in rows])
    if kind == "template":
        return Said("template", "[template] " + item["template"]["name"])
    return Said("media", (item.get(kind) or {}).get("caption", ""))


# --- Playing -----------------------------------------------------------------------------------


@dataclass
class Player:
    script: Script
    chat: Chat
    clock: Any  # time_machine traveller
    delayed: Any  # tests.delayed.DelayedTasks
    transcript: list[str] = field(default_factory=list)
    history: list[Said] = field(default_factory=list)

    def play(self) -> None:
        for n, step in enumerate(self.script.steps, 1):
            said = self._act(n, step)
            self.history.extend(said)
            self.transcript.append(f"{n}. cliente: {self._describe(step)}")
            self.transcript.extend(f"   bot: {s}" for s in said)
            self._check(n, step.get("expect") or {}, said)

    # --- actions ---------------------------------------------------------------------------

    def _describe(self, step: dict) -> str:
        for action in ACTIONS:
            if action in step:
                return f"{action} {step[action]!r}"
        return "?"

    def _act(self, n: int, step: dict) -> list[Said]:
        chat = self.chat
        if "send" in step:
            sent = chat.text(str(step["send"]))
        elif "tap" in step:
            sent = self._tap(n, str(step["tap"]))
        elif "location" in step:
            sent = chat.post(self._location(step["location"]))
        else:
            self.clock.shift(timedelta(seconds=float(step["wait"])))
            sent = chat.during(self.delayed.run_due)
        return [said_from(item) for item in sent]

    def _tap(self, n: int, wanted: str) -> list:
        """Tap the button or list row titled (or with the id) `wanted`, newest offer first."""
        key = wanted.casefold()
        for said in reversed(self.history):
            for option_id, title in said.options:
                if key in (title.casefold(), option_id.casefold()):
                    kind = "list_reply" if said.kind == "list" else "button_reply"
                    return self.chat.post(
                        self._envelope(
                            {
                                "type": "interactive",
                                "interactive": {
                                    "type": kind,
                                    kind: {"id": option_id, "title": title},
                                },
                            }
                        )
                    )
        offered = [t for s in self.history for _i, t in s.options]
        raise AssertionError(
            f"{self.script.path.name}, passo {n}: o bot não ofereceu {wanted!r} "
            f"(ofereceu: {offered})"
        )

    def _location(self, spec: dict) -> dict:
        location = {k: spec[k] for k in ("latitude", "longitude", "name", "address") if k in spec}
        return self._envelope({"type": "location", "location": location})

    def _envelope(self, message: dict) -> dict:
        """A Meta webhook body for one message of the customer, with their profile name
        (tests/meta.py's taps always say "Maria"; a script's customer may have none)."""
        chat = self.chat
        return meta.envelope(
            chat.bot.phone_number_id,
            contacts=[{"profile": {"name": chat.name}, "wa_id": chat.phone}],
            messages=[
                {
                    "from": chat.phone,
                    "id": meta.wamid(),
                    "timestamp": str(next_timestamp()),
                    **message,
                }
            ],
        )

    # --- expectations ------------------------------------------------------------------------

    def _check(self, n: int, expect: dict, said: list[Said]) -> None:
        where = f"{self.script.path.name}, passo {n}"
        texts = [s.text for s in said]
        folded = "\n".join(texts).casefold()
        for wanted in _as_list(expect.get("says")):
            assert str(wanted).casefold() in folded, f"{where}: esperava {wanted!r} em {texts}"
        for unwanted in _as_list(expect.get("not_says")):
            assert str(unwanted).casefold() not in folded, f"{where}: não esperava {unwanted!r}"
        if "matches" in expect:
            pattern = str(expect["matches"])
            assert re.search(pattern, "\n".join(texts), re.IGNORECASE | re.DOTALL), (
                f"{where}: nenhuma resposta bate com /{pattern}/: {texts}"
            )
        if expect.get("silent"):
            assert not said, f"{where}: esperava silêncio, o bot disse {texts}"
        elif expect.get("silent") is False:
            assert said, f"{where}: esperava uma resposta"
        if "buttons" in expect:
            titles = _last_options(said, "buttons")
            assert titles == list(expect["buttons"]), f"{where}: botões {titles}"
        if "rows" in expect:
            titles = _last_options(said, "list")
            assert titles == list(expect["rows"]), f"{where}: linhas {titles}"
        for wanted in _as_list(expect.get("rows_include")):
            assert wanted in _last_options(said, "list"), f"{where}: sem a linha {wanted!r}"
        for unwanted in _as_list(expect.get("rows_exclude")):
            assert unwanted not in _last_options(said, "list"), f"{where}: linha {unwanted!r}"
        self._check_state(where, expect)

    def _check_state(self, where: str, expect: dict) -> None:
        conversation = Conversation.objects.filter(
            chatbot=self.chat.bot, cliente__telefone=CUSTOMER
        ).first()
        if "step" in expect:
            step = conversation.current_step if conversation else None
            assert step == expect["step"], f"{where}: etapa {step!r}"
        status = expect.get("status") or ("waiting" if expect.get("handoff") else None)
        if status:
            actual = conversation.status if conversation else None
            assert actual == status, f"{where}: situação {actual!r}, esperava {status!r}"
        if "opted_out" in expect:
            from clientes.models import Cliente

            cliente = Cliente.objects.get(tenant=self.chat.bot.tenant, telefone=CUSTOMER)
            actual = cliente.optout_em is not None
            assert actual is bool(expect["opted_out"]), f"{where}: opt-out {actual}"
        if "order" in expect:
            _check_order(where, self.chat.bot, expect["order"])
        if "appointment" in expect:
            _check_appointment(where, self.chat.bot, expect["appointment"])


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _last_options(said: list[Said], kind: str) -> list[str]:
    offers = [s for s in said if s.kind == kind]
    return [title for _id, title in offers[-1].options] if offers else []


def _check_order(where: str, bot, spec) -> None:
    from pedidos.models import Pedido
    from pedidos.status import StatusPedido

    placed = (
        Pedido.objects.filter(chatbot=bot, cliente__telefone=CUSTOMER)
        .exclude(status=StatusPedido.RASCUNHO)
        .order_by("-id")
        .first()
    )
    if spec in (None, "none", False):
        assert placed is None, f"{where}: não esperava pedido, há o #{placed.pk if placed else ''}"
        return
    assert placed is not None, f"{where}: nenhum pedido feito"
    for key, wanted in spec.items():
        if key == "items":
            items = {i.produto.nome: i.quantidade for i in placed.itens.select_related("produto")}
            assert items == dict(wanted), f"{where}: itens {items}"
        elif key in ORDER_MONEY:
            actual = getattr(placed, key)
            amount = None if wanted in (None, "none") else Decimal(str(wanted))
            assert actual == amount, f"{where}: {key} {actual}"
        elif key == "nome":  # the customer's name, kept on the customer
            actual = placed.cliente.nome
            assert str(wanted).casefold() in actual.casefold(), f"{where}: nome {actual!r}"
        elif key == "status":
            assert placed.status == wanted, f"{where}: situação do pedido {placed.status}"
        else:  # any other field of the order: its text contains what is written
            assert hasattr(placed, key), f"{where}: o pedido não tem o campo {key!r}"
            actual = getattr(placed, key)
            actual = actual() if callable(actual) else actual
            assert str(wanted).casefold() in str(actual).casefold(), f"{where}: {key} {actual!r}"


def _check_appointment(where: str, bot, spec) -> None:
    from agenda.models import Agendamento

    appointments = Agendamento.objects.filter(
        tenant=bot.tenant, cliente__telefone=CUSTOMER
    ).order_by("-id")
    if spec in (None, "none", False):
        assert not appointments.exists(), f"{where}: não esperava agendamento"
        return
    latest = appointments.select_related("servico").first()
    assert latest is not None, f"{where}: nenhum agendamento"
    if "count" in spec:
        assert appointments.count() == spec["count"], f"{where}: {appointments.count()} agend."
    if "status" in spec:
        assert latest.status == spec["status"], f"{where}: situação {latest.status}"
    if "service" in spec:
        assert latest.servico.nome == spec["service"], f"{where}: serviço {latest.servico.nome}"
    if "start" in spec:
        start = timezone.localtime(latest.inicio, SP).strftime("%Y-%m-%d %H:%M")
        assert start == str(spec["start"]), f"{where}: início {start}"
