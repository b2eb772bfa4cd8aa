"""The answer to a satisfaction survey (campaigns.surveys) is taken before the flow sees it:
a customer who taps "Ótimo" or types "4" after an attendant closed their conversation gets a
thank-you, and the bot's current step is not asked to make sense of it."""

from __future__ import annotations

from django.utils.translation import gettext as _

from campaigns import surveys
from chatbots.handlers.base import Context, Reply
from chatbots.interceptors.base import Interceptor
from chatbots.wire import Text


class SatisfactionAnswer(Interceptor):
    def intercept(self, ctx: Context) -> Reply | None:
        if ctx.message is None or ctx.message.type not in ("text", "interactive", "button"):
            return None
        # The cheap tests first: only a score, in a conversation surveyed in the last day
        # (a flag in the cache), costs a query.
        if surveys.survey_score_of(ctx.text, ctx.reply_id) is None:
            return None
        if not surveys.survey_maybe_pending(ctx.conversation):
            return None
        if surveys.survey_answer(ctx.conversation, text=ctx.text, reply_id=ctx.reply_id) is None:
            return None
        return Reply(messages=[Text(body=_("Obrigado pela sua avaliação!"))])
