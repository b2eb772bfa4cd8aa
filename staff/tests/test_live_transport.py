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
        assert await socket.receive_json_from(timeout=5) == {"kind": "pong", "data": {}}
        # Published from sync code, as a webhook's task or a view does.
        await sync_to_async(_publish)(
            f"inbox.t{admin.tenant_id}.all", "message", {"conversation": 7, "text": "Oi"}
        )
        event = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return event

    assert async_to_sync(scenario)() == {
        "kind": "message",
        "data": {"conversation": 7, "text": "Oi"},
    }


def test_another_tenants_events_never_reach_the_socket(client):
    admin = MembershipFactory(role=Membership.Role.ADMIN)
    other = MembershipFactory(role=Membership.Role.ADMIN)

    headers = _headers(client, admin.user)

    async def scenario():
        socket = _socket(headers)
        assert (await socket.connect())[0]
        await sync_to_async(_publish)(f"inbox.t{other.tenant_id}.all", "message", {"x": 1})
        nothing = await socket.receive_nothing(timeout=0.5)
        await socket.disconnect()
        return nothing

    assert async_to_sync(scenario)() is True


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
