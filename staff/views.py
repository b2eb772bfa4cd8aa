"""The staff web app at /atendimento/: the conversation list and page, replies, notes and
the ticket actions. Thin: each view reads through inbox.selectors / staff.selectors or
calls one inbox.services function, and renders. Live updates come over the WebSocket
(staff.consumers); the pages re-read their parts (htmx) when an event arrives."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from billing.models import Membership
from chatbots.models import Conversation
from chatbots.outbox import window_open
from clientes.services import cliente_update
from inbox import selectors as inbox_selectors
from inbox import services as inbox_services
from staff import selectors, tenancy
from staff import services as staff_services
from staff.access import staff_required
from staff.forms import NoteForm, ReplyForm, TagsForm, TransferForm
from staff.onboarding import steps_left

LIST_LIMIT = 100
STATE_LABELS = {
    "waiting": gettext_lazy("Aguardando"),
    "mine": gettext_lazy("Minhas"),
    "queues": gettext_lazy("Minhas filas"),
    "all": gettext_lazy("Todas"),
    "closed": gettext_lazy("Encerradas"),
}


class LoginView(auth_views.LoginView):
    template_name = "staff/login.html"
    redirect_authenticated_user = True
    next_page = "staff:conversations"


def tenant_pick(request):
    if not request.user.is_authenticated:
        return redirect("staff:login")
    memberships = list(tenancy.staff_memberships(request.user))
    if request.method == "POST":
        chosen = request.POST.get("tenant", "")
        if any(str(m.tenant_id) == chosen for m in memberships):
            request.session[tenancy.SESSION_KEY] = int(chosen)
            return redirect("staff:conversations")
    return render(request, "staff/tenant.html", {"memberships": memberships})


def _states(membership: Membership) -> list[str]:
    states = ["waiting", "mine", "queues", "all", "closed"]
    if not inbox_selectors.is_manager(membership):
        states.remove("all")
    return states


def _list_context(request) -> dict:
    membership = request.membership
    states = _states(membership)
    state = request.GET.get("estado", "waiting")
    if state not in states:
        state = "waiting"
    search = request.GET.get("q", "").strip()[:100]
    rows = selectors.with_last_message(
        inbox_selectors.conversations_for(membership, state, search=search)
    )[:LIST_LIMIT]
    conversations = []
    for conversation in rows:
        ticket = conversation.open_tickets[0] if conversation.open_tickets else None
        minutes = (
            selectors.waiting_minutes(ticket.opened_at)
            if ticket is not None and ticket.status == "waiting"
            else None
        )
        conversations.append(
            {
                "conversation": conversation,
                "ticket": ticket,
                "waiting_minutes": minutes,
                "waiting_hours": minutes // 60 if minutes is not None else None,
            }
        )
    counts = selectors.tab_counts(membership)
    return {
        "state": state,
        "search": search,
        "tabs": [(s, STATE_LABELS[s], counts.get(s)) for s in states],
        "rows": conversations,
        "section": "conversations",
    }


@staff_required
def conversation_list(request):
    context = _list_context(request)
    if not request.headers.get("HX-Request"):
        context["onboarding_left"] = steps_left(request.membership)
    template = "staff/_list.html" if request.headers.get("HX-Request") else "staff/list.html"
    return render(request, template, context)


def _visible_conversation(request, pk: int) -> Conversation:
    conversation = get_object_or_404(
        Conversation.objects.select_related("chatbot", "cliente"),
        pk=pk,
        tenant_id=request.membership.tenant_id,
    )
    if not inbox_selectors.membership_can_see(request.membership, conversation):
        raise Http404
    return conversation


def _history_context(conversation: Conversation) -> dict:
    items = [
        {"kind": "message", "at": h.message.created_at, "item": h}
        for h in selectors.conversation_history(conversation)
    ]
    items += [
        {"kind": "note", "at": n.created_at, "item": n}
        for n in inbox_selectors.notes_of(conversation)
    ]
    items.sort(key=lambda i: i["at"])
    return {
        "section": "conversations",
        "conversation": conversation,
        "timeline": items,
        "window_open": window_open(conversation),
    }


@staff_required
def conversation_detail(request, pk: int):
    conversation = _visible_conversation(request, pk)
    ticket = inbox_services.open_ticket_of(conversation)
    staff_services.ticket_mark_seen(ticket, request.user)
    if request.headers.get("HX-Request") and request.GET.get("parte") == "historico":
        return render(request, "staff/_history.html", _history_context(conversation))
    if request.headers.get("HX-Request") and request.GET.get("parte") == "atendimento":
        return render(request, "staff/_ticket.html", _ticket_context(request, conversation, ticket))
    panel = selectors.customer_panel(conversation)
    context = {
        **_history_context(conversation),
        **_ticket_context(request, conversation, ticket),
        "panel": panel,
        "tags_value": ", ".join(panel.cliente.tags) if panel else "",
        "templates": selectors.approved_templates(conversation),
        "quick_replies": [
            {"shortcut": q.shortcut, "text": q.text}
            for q in inbox_selectors.quick_replies_for(
                request.membership, queue=ticket.queue_id if ticket else None
            )
        ],
    }
    return render(request, "staff/conversation.html", context)


def _ticket_context(request, conversation, ticket) -> dict:
    team = selectors.team(request.membership)
    queues = list(inbox_selectors.queues_for(request.membership).order_by("name"))
    return {
        "conversation": conversation,
        "ticket": ticket,
        "can_take": ticket is not None and ticket.assigned_to_id is None,
        "mine": ticket is not None and ticket.assigned_to_id == request.user.pk,
        "transfer_form": TransferForm(
            # Who is available shows in the choice: a transfer to someone away waits.
            people=[(m["user"].pk, f"{m['name']} ({m['presence_label']})") for m in team],
            queues=[(q.pk, q.name) for q in queues],
        ),
    }


def _back(pk: int):
    return redirect("staff:conversation", pk=pk)


def _fail(request, error: inbox_services.InboxError) -> None:
    messages.error(request, error.detail or _("Não foi possível concluir a ação."))


@require_POST
@staff_required
def reply(request, pk: int):
    conversation = _visible_conversation(request, pk)
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            inbox_services.staff_reply(
                conversation,
                request.user,
                text=form.cleaned_data["text"] or None,
                template=form.cleaned_data["template"] or None,
                params=form.params(request.POST),
            )
        except inbox_services.InboxError as error:
            _fail(request, error)
    return _back(pk)


@require_POST
@staff_required
def note(request, pk: int):
    conversation = _visible_conversation(request, pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            inbox_services.note_add(conversation, request.user, form.cleaned_data["text"])
        except inbox_services.InboxError as error:
            _fail(request, error)
    return _back(pk)


def _open_ticket_or_message(request, conversation):
    ticket = inbox_services.open_ticket_of(conversation)
    if ticket is None:
        messages.error(request, _("Esta conversa não está em atendimento."))
    return ticket


@require_POST
@staff_required
def take(request, pk: int):
    conversation = _visible_conversation(request, pk)
    ticket = _open_ticket_or_message(request, conversation)
    if ticket is not None:
        try:
            inbox_services.ticket_take(ticket, request.user)
        except inbox_services.InboxError as error:
            _fail(request, error)
    return _back(pk)


@require_POST
@staff_required
def transfer(request, pk: int):
    conversation = _visible_conversation(request, pk)
    ticket = _open_ticket_or_message(request, conversation)
    context = _ticket_context(request, conversation, ticket)
    form = TransferForm(
        request.POST,
        people=context["transfer_form"].fields["user"].choices[1:],
        queues=context["transfer_form"].fields["queue"].choices[1:],
    )
    if ticket is not None and form.is_valid():
        user = None
        if form.cleaned_data["user"]:
            user = (
                Membership.objects.filter(
                    tenant_id=request.membership.tenant_id, user_id=form.cleaned_data["user"]
                )
                .select_related("user")
                .first()
            )
            user = user.user if user else None
        try:
            inbox_services.ticket_assign(
                ticket,
                request.user,
                user=user,
                queue=form.cleaned_data["queue"],
                note=form.cleaned_data["note"],
            )
        except inbox_services.InboxError as error:
            _fail(request, error)
    elif ticket is not None:
        messages.error(request, _("Escolha uma pessoa ou uma fila."))
    if inbox_selectors.membership_can_see(request.membership, conversation):
        return _back(pk)
    messages.success(request, _("Conversa transferida."))
    return redirect("staff:conversations")


@require_POST
@staff_required
def close(request, pk: int):
    conversation = _visible_conversation(request, pk)
    ticket = _open_ticket_or_message(request, conversation)
    if ticket is not None:
        try:
            inbox_services.ticket_close(ticket, request.user)
            messages.success(request, _("Atendimento encerrado."))
        except inbox_services.InboxError as error:
            _fail(request, error)
    return _back(pk)


@require_POST
@staff_required
def return_to_bot(request, pk: int):
    conversation = _visible_conversation(request, pk)
    ticket = _open_ticket_or_message(request, conversation)
    if ticket is not None:
        try:
            inbox_services.ticket_return_to_bot(ticket, request.user)
            messages.success(request, _("Conversa devolvida ao robô."))
        except inbox_services.InboxError as error:
            _fail(request, error)
    return _back(pk)


@require_POST
@staff_required
def tags(request, pk: int):
    conversation = _visible_conversation(request, pk)
    form = TagsForm(request.POST)
    if conversation.cliente is not None and form.is_valid():
        cliente_update(cliente=conversation.cliente, tags=form.tag_list())
    return _back(pk)
