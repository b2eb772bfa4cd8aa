"""The web server's worker class: uvicorn under gunicorn (gunicorn.conf.py).

An asyncio worker holds the staff app's WebSockets (hundreds per process) without tying up a
thread each, which gunicorn's gthread worker would; sync Django views still get a thread
pool through config/asgi.py. https://github.com/Kludex/uvicorn-worker
"""

from __future__ import annotations

from uvicorn_worker import UvicornWorker


class Worker(UvicornWorker):
    CONFIG_KWARGS = {
        "loop": "auto",
        "http": "auto",
        "ws": "websockets",
        # Django and Channels have no lifespan handler; "auto" would log that on every boot.
        "lifespan": "off",
        # config/access_log.py writes the access lines (no query strings, request id).
        "access_log": False,
        # REMOTE_ADDR stays the peer's address, as under gunicorn's own workers: the
        # client behind proxies is decided once, by NUM_PROXIES (config/client_ip.py), and
        # https by Django's SECURE_PROXY_SSL_HEADER.
        "proxy_headers": False,
        "server_header": False,
    }
