"""Event webhook routes, under /api/integrations/."""

from rest_framework.routers import SimpleRouter

from integrations.api.views import WebhookDeliveryViewSet, WebhookSubscriptionViewSet

router = SimpleRouter()
router.register("webhooks", WebhookSubscriptionViewSet, basename="integrations-webhook")
router.register("deliveries", WebhookDeliveryViewSet, basename="integrations-delivery")
urlpatterns = router.urls
