"""The HS256 token Evolution API signs its webhooks with, when the bot has a `jwt_key`.

The webhook's side (accepted, refused with 401) is in test_provider_evolution.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from chatbots.providers import evolution_instance

KEY = "chave-jwt-da-loja-com-mais-de-32-bytes"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token(claims, *, header=None, key: str = KEY) -> str:
    """A JWT built by hand, so a test can make one that no library would."""
    head = b64(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(key.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def fresh_claims(**extra) -> dict:
    now = int(time.time())
    return {"iat": now, "exp": now + 600, "app": "evolution", "action": "webhook", **extra}


def test_an_unsigned_alg_none_token_is_refused():
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    payload = (
        base64.urlsafe_b64encode(b'{"exp":9999999999,"app":"evolution"}').rstrip(b"=").decode()
    )
    with pytest.raises(evolution_instance.JWTError):
        evolution_instance.jwt_decode_hs256(f"{header}.{payload}.", "chave")


def test_jwt_round_trip_keeps_the_claims():
    claims = fresh_claims()
    assert (
        evolution_instance.jwt_decode_hs256(evolution_instance.jwt_encode_hs256(claims, "k"), "k")
        == claims
    )


# Claims as functions of the time the test runs (collection may come minutes earlier).
@pytest.mark.parametrize(
    "claims",
    [
        pytest.param(lambda now: {"exp": now - 30}, id="expired-within-the-leeway"),
        pytest.param(lambda now: {"exp": now + 600, "iat": now + 30}, id="issued-within-leeway"),
        pytest.param(lambda now: {"exp": now + 600, "nbf": now + 30}, id="valid-within-leeway"),
        pytest.param(lambda now: {"exp": str(now + 600)}, id="exp-as-a-numeric-string"),
        pytest.param(lambda now: {"exp": now + 600.5}, id="exp-with-a-fraction"),
        # Registered claims Evolution does not send are not checked.
        pytest.param(lambda now: {"exp": now + 600, "aud": "outro"}, id="any-audience"),
        pytest.param(lambda now: {"exp": now + 600, "iss": "outro"}, id="any-issuer"),
        pytest.param(lambda now: {"exp": now + 600, "sub": 5}, id="non-string-subject"),
        pytest.param(lambda now: {"exp": now + 600, "jti": 5}, id="non-string-jti"),
    ],
)
def test_it_accepts(claims):
    claims = claims(int(time.time()))
    assert evolution_instance.jwt_decode_hs256(token(claims), KEY) == claims


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda now: token({"exp": now - 90}), id="expired"),
        pytest.param(lambda now: token({"exp": now + 600, "iat": now + 90}), id="issued-later"),
        pytest.param(lambda now: token({"exp": now + 600, "nbf": now + 90}), id="not-yet-valid"),
        pytest.param(lambda now: token({"iat": now}), id="no-exp"),
        pytest.param(lambda now: token({"exp": None}), id="null-exp"),
        pytest.param(lambda now: token({"exp": "soon"}), id="exp-not-a-number"),
        pytest.param(lambda now: token({"exp": now + 600, "iat": "x"}), id="iat-not-a-number"),
        pytest.param(
            lambda now: token({"exp": now + 600}, header={"alg": "HS512"}), id="another-algorithm"
        ),
        pytest.param(lambda now: token({"exp": now + 600}, key="outra"), id="wrong-key"),
        pytest.param(lambda now: token([1, 2]), id="claims-not-an-object"),
        pytest.param(lambda now: "a.b", id="two-parts"),
        pytest.param(lambda now: "", id="empty"),
        pytest.param(lambda now: token({"exp": now + 600})[:-4] + "!!!!", id="garbled-signature"),
    ],
)
def test_it_refuses(make):
    with pytest.raises(evolution_instance.JWTError):
        evolution_instance.jwt_decode_hs256(make(int(time.time())), KEY)
