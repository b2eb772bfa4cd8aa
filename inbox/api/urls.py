"""REST routes of the inbox under /api/inbox/: queues and quick replies. The conversation
routes (actions, replies, notes) are under /api/chatbots/conversations/ (chatbots.api.urls)."""

from rest_framework.routers import SimpleRouter

from inbox.api.views import QueueViewSet, QuickReplyViewSet

router = SimpleRouter()
router.register("queues", QueueViewSet, basename="inbox-queue")
router.register("quick-replies", QuickReplyViewSet, basename="inbox-quick-reply")
urlpatterns = router.urls
