"""REST routes of campaigns under /api/campaigns/ (campaigns.api.views)."""

from rest_framework.routers import SimpleRouter

from campaigns.api.views import CampaignViewSet, ContactImportViewSet, ScheduledMessageViewSet

router = SimpleRouter()
router.register("scheduled-messages", ScheduledMessageViewSet, basename="scheduled-message")
router.register("imports", ContactImportViewSet, basename="contact-import")
router.register("", CampaignViewSet, basename="campaign")
urlpatterns = router.urls
