"""Voice notes: with the assistant on, the step waits for the transcription
(chatbots.ai.transcribe feeds it back as typed text); without it, the bot says once that it
cannot listen to audio and asks to type (the text is the bot's option `voice_note_text`).
Either way the audio is kept for staff (media)."""

from __future__ import annotations

from chatbots.ai.assistant import model_usable
from chatbots.ai.transcribe import cannot_listen_text
from chatbots.handlers.base import Context, Reply
from chatbots.interceptors.base import Interceptor
from chatbots.wire import Text


class VoiceNote(Interceptor):
    def intercept(self, ctx: Context) -> Reply | None:
        if ctx.message is None or ctx.message.type != "audio":
            return None
        if model_usable(ctx.chatbot.tenant):
            return Reply()  # the transcription drives the flow when it comes
        return Reply(messages=[Text(body=cannot_listen_text(ctx.chatbot))])
