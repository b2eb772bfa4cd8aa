"""REST routes for bots, steps, conversations and messages, under /api/chatbots/.

The bot routes use numeric ids only, so `conversations/` (and the webhook's `webhook/`,
mounted on the same prefix) are never read as a bot id.
"""

from rest_framework.routers import SimpleRouter

from chatbots.api.views import (
    ChatbotViewSet,
    ConversationMessageViewSet,
    ConversationViewSet,
    StepViewSet,
)
from inbox.api.views import ConversationActionViewSet, ConversationNoteViewSet

router = SimpleRouter()
router.register("conversations", ConversationViewSet, basename="chatbot-conversation")
# The attendant inbox's actions: conversations/{id}/assign/, take/, close/, return-to-bot/.
router.register("conversations", ConversationActionViewSet, basename="inbox-conversation")
router.register(
    r"conversations/(?P<conversation_id>\d+)/messages",
    ConversationMessageViewSet,
    basename="chatbot-conversation-message",
)
router.register(
    r"conversations/(?P<conversation_id>\d+)/notes",
    ConversationNoteViewSet,
    basename="chatbot-conversation-note",
)
router.register(r"(?P<chatbot_id>\d+)/steps", StepViewSet, basename="chatbot-step")
router.register("", ChatbotViewSet, basename="chatbot")
urlpatterns = router.urls
