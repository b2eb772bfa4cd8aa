"""The live transport: the WebSocket endpoint on the real ASGI app, the production channel
layer (Redis pub/sub) and the embedded one (channels-lite) across processes."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings

from billing.models import Membership
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)
BASE_DIR = Path(settings.BASE_DIR)


def _application():
    from config.asgi import application

    return application


def _headers(client, user=None, *, origin="http://localhost"):
    """The handshake's headers, with the session cookie of `user` logged in (sync code)."""
    headers = [(b"host", b"localhost"), (b"origin", origin.encode())]
    if user is not None:
        client.force_login(user)
        name = settings.SESSION_COOKIE_NAME
        headers.append((b"cookie", f"{name}={client.cookies[name].value}".encode()))
    return headers


def _socket(headers):
    return WebsocketCommunicator(_application(), "/ws/atendimento/", headers=headers)


async def _quiet(socket, timeout=0.5) -> list[dict]:
    """What the socket got until it was quiet (its own "online" presence among it)."""
    got = []
    while not await socket.receive_nothing(timeout=timeout):
        got.append(await socket.receive_json_from())
    return got


def _publish(group: str, kind: str, data: dict) -> None:
    async_to_sync(get_channel_layer().group_send)(
        group, {"type": "inbox.event", "kind": kind, "data": data}
    )


def test_an_admin_socket_receives_what_is_published_to_its_tenant(client):
    admin = MembershipFactory(role=Membership.Role.ADMIN)

    headers = _headers(client, admin.user)

    async def scenario():
        socket = _socket(headers)
        connected, _ = await socket.connect()
        assert connected
        await socket.send_json_to({"action": "ping"})
        assert {"kind": "pong", "data": {}} in await _quiet(socket)
        # Published from sync code, as a webhook's task or a view does.
        await sync_to_async(_publish)(
            f"inbox.t{admin.tenant_id}.all", "message", {"conversation": 7, "text": "Oi"}
        )
        events = await _quiet(socket)
        await socket.disconnect()
        return events

    assert async_to_sync(scenario)() == [
        {"kind": "message", "data": {"conversation": 7, "text": "Oi"}},
    ]


def test_another_tenants_events_never_reach_the_socket(client):
    admin = MembershipFactory(role=Membership.Role.ADMIN)
    other = MembershipFactory(role=Membership.Role.ADMIN)

    headers = _headers(client, admin.user)

    async def scenario():
        socket = _socket(headers)
        assert (await socket.connect())[0]
        await _quiet(socket)
        await sync_to_async(_publish)(f"inbox.t{other.tenant_id}.all", "message", {"x": 1})
        got = await _quiet(socket)
        await socket.disconnect()
        return got

    assert async_to_sync(scenario)() == []


def test_a_visitor_and_a_user_without_a_tenant_are_turned_away(client, django_user_model):
    outsider = django_user_model.objects.create_user("fora", password="x")

    async def close_message(headers):
        socket = _socket(headers)
        await socket.connect()
        message = await socket.receive_output(timeout=5)
        await socket.disconnect()
        return message

    visitor = _headers(client)
    assert async_to_sync(close_message)(visitor) == {"type": "websocket.close", "code": 4401}
    stranger = _headers(client, outsider)
    assert async_to_sync(close_message)(stranger) == {"type": "websocket.close", "code": 4403}


def test_a_socket_from_a_foreign_origin_is_refused(client):
    admin = MembershipFactory(role=Membership.Role.ADMIN)

    headers = _headers(client, admin.user, origin="https://evil.example")

    async def scenario():
        socket = _socket(headers)
        connected, _ = await socket.connect()
        await socket.disconnect()
        return connected

    assert async_to_sync(scenario)() is False


RECEIVER = textwrap.dedent(
    """
    import asyncio, json, django
    django.setup()
    from channels.layers import get_channel_layer

    async def main():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add("inbox.t1.all", channel)
        print("ready", flush=True)
        message = await asyncio.wait_for(layer.receive(channel), timeout=20)
        print(json.dumps(message), flush=True)

    asyncio.run(main())
    """
)
SENDER = textwrap.dedent(
    """
    import django
    django.setup()
    from asgiref.sync import async_to_sync, sync_to_async
    from channels.layers import get_channel_layer

    async_to_sync(get_channel_layer().group_send)(
        "inbox.t1.all", {"type": "inbox.event", "kind": "message", "data": {"text": "Oi"}}
    )
    """
)


def test_the_embedded_layer_carries_an_event_from_one_process_to_another(tmp_path):
    """The embedded mode runs the web and the Celery worker as separate processes: what the
    worker publishes must reach the web's sockets, which an in-memory layer would not do."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_ENV_FILE": str(tmp_path / ".env"),
        "DATA_DIR": str(tmp_path / "data"),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PYTHONPATH": str(BASE_DIR),
    }
    manage = [sys.executable, str(BASE_DIR / "manage.py")]
    subprocess.run(
        [*manage, "migrate", "--database", "channels", "-v", "0"],
        env=env,
        cwd=BASE_DIR,
        check=True,
        capture_output=True,
        timeout=120,
    )
    receiver = subprocess.Popen(
        [sys.executable, "-c", RECEIVER],
        env=env,
        cwd=BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.stdout.readline().strip() == "ready", receiver.stderr.read()
        subprocess.run(
            [sys.executable, "-c", SENDER],
            env=env,
            cwd=BASE_DIR,
            check=True,
            capture_output=True,
            timeout=60,
        )
        out, err = receiver.communicate(timeout=30)
    finally:
        receiver.kill()
    assert json.loads(out.strip()) == {
        "type": "inbox.event",
        "kind": "message",
        "data": {"text": "Oi"},
    }, err


LAUNCHERS = (
    "Procfile",
    "render.yaml",
    "Dockerfile",
    "docker-compose.yml",
    "deploy/supervisor/chatbot.conf",
    "start_services.sh",
)


def test_every_launcher_serves_the_asgi_app():
    """A launcher left on config.wsgi would serve the pages but never a WebSocket."""
    for name in LAUNCHERS:
        text = (BASE_DIR / name).read_text()
        assert "config.asgi:application" in text, name
        assert "config.wsgi:application" not in text, name


def test_the_shipped_nginx_passes_the_websocket_upgrade():
    conf = (BASE_DIR / "deploy/nginx/chatbot.conf").read_text()
    ws = conf[conf.index("location /ws/") :]
    ws = ws[: ws.index("}")]
    assert "proxy_set_header Upgrade $http_upgrade;" in ws
    assert "proxy_set_header Connection $connection_upgrade;" in ws
    assert "proxy_http_version 1.1;" in ws


def test_gunicorn_with_the_shipped_config_answers_http_and_websockets(tmp_path):
    """The real web server (gunicorn.conf.py: uvicorn's worker, the ASGI app): /healthz/live
    over HTTP and the staff socket's handshake, refused for a visitor with its close code."""
    import asyncio
    import socket
    import time
    import urllib.request

    import websockets

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "LOG_LEVEL": "WARNING",
    }
    (tmp_path / "prometheus").mkdir()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/healthz/live", timeout=2
                ) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "gunicorn did not answer"
                time.sleep(0.2)

        async def visitor_socket():
            async with websockets.connect(
                f"ws://127.0.0.1:{port}/ws/atendimento/", origin=f"http://127.0.0.1:{port}"
            ) as ws:
                try:
                    await asyncio.wait_for(ws.recv(), timeout=10)
                except websockets.ConnectionClosed as closed:
                    return closed.rcvd.code
            return None

        assert asyncio.run(visitor_socket()) == 4401
    finally:
        server.terminate()
        server.wait(timeout=30)
