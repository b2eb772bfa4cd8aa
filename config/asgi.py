"""The web application: Django's views over HTTP and the staff app's WebSockets.

Served by uvicorn's worker under gunicorn (gunicorn.conf.py, config/server.py):

* HTTP goes to the WSGI application (config/wsgi.py) on a pool of WEB_THREADS threads,
  through config/wsgi_bridge.py (one crossing between the loop and a thread a request;
  a2wsgi's WSGIMiddleware for large uploads). Django's own ASGI handler would run
  every sync view and middleware through asgiref's `sync_to_async(thread_sensitive=True)`,
  i.e. one thread per process for all of them (https://docs.djangoproject.com/en/5.2/topics/async/#async-adapter-functions);
  the webhook, the admin and the API are sync code that waits on PostgreSQL, so that one
  thread would serialize them (README "Live updates" has the side-by-side).
* WebSockets (/ws/atendimento/) go to Django Channels: the Host/Origin checked against
  ALLOWED_HOSTS, the session cookie authenticating the user.
  https://channels.readthedocs.io/en/stable/topics/routing.html
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Sets Django up before the imports below load models.
get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from config.access_log import AccessLogMiddleware  # noqa: E402
from config.wsgi import application as wsgi_application  # noqa: E402
from config.wsgi_bridge import WSGIBridge  # noqa: E402
from staff.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": WSGIBridge(AccessLogMiddleware(wsgi_application), workers=settings.WEB_THREADS),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
