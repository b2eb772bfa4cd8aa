"""A number that looks connected but stopped answering: the bot's replies are not leaving.

Evolution tells us when an instance closes (chatbots.account_events, CONNECTION_UPDATE), but
a WhatsApp Web session can stay "open" while nothing goes out, and Meta or Whaticket may
refuse every send (a revoked token, a suspended connection). What we can see is our own
outbox: a bot is *silent* when a reply has waited more than STUCK_MINUTES to be sent, or when
its last FAILED_SENDS sends in FAILED_WINDOW_MINUTES all failed and none got through.

`silent_bots` reads that for a list of bots (the staff app's bot pages show it);
`silent_bots_alert` (a periodic task, config/schedule.py) tells the owners once per
incident, the way Meta's account news is told (billing.alerts.notice_raise).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import alerts
from chatbots.models import Chatbot, Message

STUCK_MINUTES = 10  # a reply normally leaves within seconds (sweep_outbound re-queues at 30 s)
FAILED_SENDS = 3
FAILED_WINDOW_MINUTES = 30
SIMULATION = "simulation"  # Message.error_code of a simulator reply: never a failure


def silent_bots(chatbot_ids: list[int], *, now: datetime | None = None) -> dict[int, str]:
    """{bot id: why it is silent (pt-BR)} for the bots of `chatbot_ids` that are."""
    now = now or timezone.now()
    out = Message.objects.filter(
        direction=Message.Direction.OUT, conversation__chatbot_id__in=chatbot_ids
    )
    silent: dict[int, str] = {}
    stuck = (
        out.filter(
            status__in=(Message.Status.QUEUED, Message.Status.SENDING),
            created_at__lt=now - timedelta(minutes=STUCK_MINUTES),
        )
        .values("conversation__chatbot_id")
        .annotate(oldest=Min("created_at"), first=Min("pk"))
    )
    for row in stuck:
        minutes = int((now - row["oldest"]).total_seconds() // 60)
        silent[row["conversation__chatbot_id"]] = _(
            "há respostas esperando para sair há %(minutes)s minutos"
        ) % {"minutes": minutes}
    since = now - timedelta(minutes=FAILED_WINDOW_MINUTES)
    failing = (
        # created_at bounds the scan by its index: a send that ends in the window was
        # queued shortly before it (retries give up within minutes).
        out.filter(created_at__gte=since - timedelta(minutes=FAILED_WINDOW_MINUTES))
        .filter(Q(failed_at__gte=since) | Q(sent_at__gte=since))
        .exclude(error_code=SIMULATION)
        .values("conversation__chatbot_id")
        .annotate(
            failed=Count("pk", filter=Q(failed_at__gte=since)),
            sent=Count("pk", filter=Q(sent_at__gte=since)),
        )
    )
    for row in failing:
        if row["failed"] >= FAILED_SENDS and not row["sent"]:
            silent.setdefault(
                row["conversation__chatbot_id"],
                _("as últimas %(count)s respostas falharam") % {"count": row["failed"]},
            )
    return silent


def silent_bots_alert(*, now: datetime | None = None) -> int:
    """Tell the owners of each silent bot, once per bot and hour; returns how many told."""
    now = now or timezone.now()
    ids = list(
        Chatbot.objects.filter(active=True).exclude(provider="stub").values_list("pk", flat=True)
    )
    told = 0
    bots = Chatbot.objects.in_bulk(list(silent := silent_bots(ids, now=now)))
    for bot_id, why in silent.items():
        bot = bots[bot_id]
        notice = alerts.notice_raise(
            tenant_id=bot.tenant_id,
            source=f"silent:{bot.pk}:{now:%Y%m%d%H}",
            message=_(
                "O robô “%(bot)s” parece conectado, mas parou de responder: %(why)s. Confira "
                "a conexão em Robôs › Conexão no painel de atendimento."
            )
            % {"bot": bot.name, "why": why},
            occurred_at=now,
        )
        told += notice is not None
    return told
