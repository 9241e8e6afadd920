"""Production tokens: RS256 / ES256 against a PEM public key or a JWKS served over HTTP."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from deskgraph.auth.tokens import (
    JWKS_FAILURE_SECONDS,
    JWKS_REFETCH_SECONDS,
    LEEWAY_SECONDS,
    Principal,
    TokenVerifier,
    issue_token,
    parse_jwks,
)
from deskgraph.errors import Unauthenticated
from deskgraph.settings import DEVELOPMENT_TOKEN_SECRET, Settings
from deskgraph.sources.loopback import LoopbackServer
from tests.conftest import Api, Served

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(private_key: Any) -> str:
    return str(
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "advisor:2", "iss": "deskgraph", "aud": "deskgraph", "exp": now + 300}
    return {**base, **overrides}


def hs256_forged_with(secret: str) -> str:
    """An HS256 token whose HMAC key is ``secret`` (PyJWT refuses to sign with a PEM key)."""

    def part(value: bytes) -> bytes:
        return base64.urlsafe_b64encode(value).rstrip(b"=")

    signing_input = (
        part(b'{"alg":"HS256","typ":"JWT"}') + b"." + part(json.dumps(claims()).encode())
    )
    signature = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + part(signature)).decode()


def jwk(private_key: Any, kid: str, alg: str) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(
        jwt.algorithms.get_default_algorithms()[alg].to_jwk(private_key.public_key())
    )
    return {**entry, "kid": kid, "alg": alg, "use": "sig"}


async def test_rs256_token_verified_against_an_inline_pem_key() -> None:
    verifier = TokenVerifier(Settings(token_public_key=pem(RSA_KEY)))
    token = jwt.encode(claims(), RSA_KEY, algorithm="RS256")
    assert await verifier.verify(token) == Principal(kind="advisor", id=2)


async def test_es256_token_verified_against_a_pem_file(tmp_path: Path) -> None:
    path = tmp_path / "public.pem"
    path.write_text(pem(EC_KEY))
    verifier = TokenVerifier(Settings(token_public_key=str(path)))
    token = jwt.encode(claims(sub="service:crm-sync", scope="read"), EC_KEY, algorithm="ES256")
    principal = await verifier.verify(token)
    assert principal == Principal(kind="service", service="crm-sync", scopes=frozenset({"read"}))


@pytest.mark.parametrize(
    ("token_of", "message"),
    [
        pytest.param(
            lambda: jwt.encode(claims(), OTHER_RSA_KEY, algorithm="RS256"),
            "The token's signature does not verify.",
            id="other-key",
        ),
        pytest.param(
            lambda: jwt.encode(claims(exp=1), RSA_KEY, algorithm="RS256"),
            "The token has expired (exp).",
            id="expired",
        ),
        pytest.param(
            lambda: jwt.encode(claims(nbf=int(time.time()) + 3600), RSA_KEY, algorithm="RS256"),
            "The token is not valid yet (nbf).",
            id="not-yet-valid",
        ),
        pytest.param(
            lambda: jwt.encode(claims(iss="x"), RSA_KEY, algorithm="RS256"),
            "The token comes from another issuer (iss).",
            id="issuer",
        ),
        pytest.param(
            lambda: jwt.encode(claims(aud="x"), RSA_KEY, algorithm="RS256"),
            "The token is meant for another audience (aud).",
            id="audience",
        ),
        pytest.param(
            lambda: jwt.encode({k: v for k, v in claims().items() if k != "exp"}, RSA_KEY, "RS256"),
            "The token lacks the 'exp' claim.",
            id="no-exp",
        ),
        # A public key must never work as an HMAC secret (algorithm confusion).
        pytest.param(
            lambda: hs256_forged_with(pem(RSA_KEY)),
            "The token is signed with an algorithm not accepted here.",
            id="hs256-with-pem",
        ),
        pytest.param(
            lambda: jwt.encode(claims(), DEVELOPMENT_TOKEN_SECRET, algorithm="HS256"),
            "The token is signed with an algorithm not accepted here.",
            id="development-secret",
        ),
        pytest.param(
            lambda: jwt.encode(claims(), "", algorithm="none"),
            "The token is signed with an algorithm not accepted here.",
            id="alg-none",
        ),
        pytest.param(lambda: "a.b.c", "The token is malformed (not a JWT).", id="garbage"),
    ],
)
async def test_public_key_mode_refuses_bad_tokens_naming_the_check(
    token_of: Any, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = TokenVerifier(Settings(token_public_key=pem(RSA_KEY)))
    token = token_of()
    with (
        caplog.at_level(logging.INFO, logger="deskgraph.auth"),
        pytest.raises(Unauthenticated) as e,
    ):
        await verifier.verify(token)
    assert e.value.message == message
    logged = [r.getMessage() for r in caplog.records if r.name == "deskgraph.auth"]
    assert len(logged) == 1
    assert logged[0].startswith("token refused (")
    assert token not in logged[0]


def test_unsupported_public_keys_are_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="PEM public key"):
        TokenVerifier(Settings(token_public_key="-----BEGIN PUBLIC KEY-----\nnope\n"))
    with pytest.raises(ValueError, match="RSA"):
        TokenVerifier(Settings(token_public_key=pem(ed25519.Ed25519PrivateKey.generate())))
    with pytest.raises(ValueError, match="cannot read"):
        TokenVerifier(Settings(token_public_key="/nonexistent/key.pem"))


class JwksEndpoint:
    """A JWKS document on 127.0.0.1 that tests can rotate, counting the fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        self.status = 200

    async def handle(self, _request: Request) -> Response:
        self.fetches += 1
        if self.status != 200:
            return Response("unavailable", status_code=self.status)
        return JSONResponse({"keys": self.keys})


@pytest.fixture
def jwks() -> Iterator[tuple[JwksEndpoint, str]]:
    endpoint = JwksEndpoint()
    app = Starlette(routes=[Route("/.well-known/jwks.json", endpoint.handle)])
    with LoopbackServer(app) as server:
        yield endpoint, f"{server.url}/.well-known/jwks.json"


async def test_jwks_verifies_rs256_and_es256_by_kid(jwks: tuple[JwksEndpoint, str]) -> None:
    endpoint, url = jwks
    endpoint.keys = [jwk(RSA_KEY, "rsa-1", "RS256"), jwk(EC_KEY, "ec-1", "ES256")]
    verifier = TokenVerifier(Settings(token_jwks_url=url))
    try:
        rsa_token = jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
        ec_token = jwt.encode(
            claims(sub="customer_user:1"), EC_KEY, algorithm="ES256", headers={"kid": "ec-1"}
        )
        assert await verifier.verify(rsa_token) == Principal(kind="advisor", id=2)
        assert await verifier.verify(ec_token) == Principal(kind="customer_user", id=1)
        assert endpoint.fetches == 1  # cached after the first token
        # A key may not be used with another algorithm than its own.
        confused = jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "ec-1"})
        with pytest.raises(Unauthenticated):
            await verifier.verify(confused)
    finally:
        await verifier.aclose()


async def test_jwks_is_fetched_again_for_a_rotated_key_but_not_on_every_request(
    jwks: tuple[JwksEndpoint, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, url = jwks
    endpoint.keys = [jwk(RSA_KEY, "old", "RS256")]
    verifier = TokenVerifier(Settings(token_jwks_url=url))
    clock = [1000.0]
    monkeypatch.setattr("deskgraph.auth.tokens.time.monotonic", lambda: clock[0])
    try:
        await verifier.verify(
            jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "old"})
        )
        endpoint.keys.append(jwk(OTHER_RSA_KEY, "new", "RS256"))
        rotated = jwt.encode(claims(), OTHER_RSA_KEY, algorithm="RS256", headers={"kid": "new"})
        unknown = jwt.encode(claims(), OTHER_RSA_KEY, algorithm="RS256", headers={"kid": "nope"})
        # Right after a fetch, an unknown kid does not make the verifier hammer the IdP.
        with pytest.raises(Unauthenticated):
            await verifier.verify(rotated)
        assert endpoint.fetches == 1
        clock[0] += JWKS_REFETCH_SECONDS + 1
        assert await verifier.verify(rotated) == Principal(kind="advisor", id=2)
        assert endpoint.fetches == 2
        for _ in range(5):
            with pytest.raises(Unauthenticated):
                await verifier.verify(unknown)
        assert endpoint.fetches == 2
    finally:
        await verifier.aclose()


async def test_jwks_unavailable_is_unauthenticated_with_a_clear_message(
    jwks: tuple[JwksEndpoint, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, url = jwks
    endpoint.status = 503
    verifier = TokenVerifier(Settings(token_jwks_url=url))
    clock = [1000.0]
    monkeypatch.setattr("deskgraph.auth.tokens.time.monotonic", lambda: clock[0])
    try:
        token = jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
        for _ in range(5):  # while it is down, one fetch per interval, not one per request
            with pytest.raises(Unauthenticated, match="signing keys are unavailable"):
                await verifier.verify(token)
        assert endpoint.fetches == 1
        # It recovers once the key set is back and the failure interval is over.
        clock[0] += JWKS_FAILURE_SECONDS
        endpoint.status = 200
        endpoint.keys = [jwk(RSA_KEY, "rsa-1", "RS256")]
        assert await verifier.verify(token) == Principal(kind="advisor", id=2)
    finally:
        await verifier.aclose()


async def test_jwks_key_removed_from_the_set_stops_working_once_the_set_expires(
    jwks: tuple[JwksEndpoint, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, url = jwks
    endpoint.keys = [jwk(RSA_KEY, "old", "RS256"), jwk(OTHER_RSA_KEY, "new", "RS256")]
    verifier = TokenVerifier(Settings(token_jwks_url=url, token_jwks_cache_seconds=120))
    clock = [1000.0]
    monkeypatch.setattr("deskgraph.auth.tokens.time.monotonic", lambda: clock[0])
    old = jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "old"})
    new = jwt.encode(claims(), OTHER_RSA_KEY, algorithm="RS256", headers={"kid": "new"})
    try:
        assert await verifier.verify(old) == Principal(kind="advisor", id=2)
        endpoint.keys = [jwk(OTHER_RSA_KEY, "new", "RS256")]  # the IdP drops the old key
        clock[0] += 119
        assert await verifier.verify(old) == Principal(kind="advisor", id=2)  # still cached
        assert endpoint.fetches == 1
        clock[0] += 1
        with pytest.raises(Unauthenticated) as refused:
            await verifier.verify(old)
        assert refused.value.message == "The token's signing key is not in the key set (kid)."
        assert endpoint.fetches == 2
        assert await verifier.verify(new) == Principal(kind="advisor", id=2)
        assert endpoint.fetches == 2
    finally:
        await verifier.aclose()


async def test_jwks_expired_set_is_not_used_while_the_jwks_is_down(
    jwks: tuple[JwksEndpoint, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, url = jwks
    endpoint.keys = [jwk(RSA_KEY, "rsa-1", "RS256")]
    verifier = TokenVerifier(Settings(token_jwks_url=url, token_jwks_cache_seconds=60))
    clock = [1000.0]
    monkeypatch.setattr("deskgraph.auth.tokens.time.monotonic", lambda: clock[0])
    token = jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
    try:
        assert await verifier.verify(token) == Principal(kind="advisor", id=2)
        endpoint.status = 503
        clock[0] += 60
        with pytest.raises(Unauthenticated, match="signing keys are unavailable"):
            await verifier.verify(token)
        endpoint.status = 200
        clock[0] += JWKS_FAILURE_SECONDS
        assert await verifier.verify(token) == Principal(kind="advisor", id=2)
        assert endpoint.fetches == 3
    finally:
        await verifier.aclose()


def test_parse_jwks_skips_keys_it_cannot_use() -> None:
    keys = parse_jwks(
        {
            "keys": [
                jwk(RSA_KEY, "sig", "RS256"),
                {**jwk(RSA_KEY, "enc", "RS256"), "use": "enc"},
                {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
                {"kty": "RSA", "kid": "broken"},
                "not a key",
            ]
        }
    )
    assert list(keys) == ["sig"]
    assert parse_jwks({"keys": "nope"}) == {} == parse_jwks([1, 2])


async def test_an_app_with_a_public_key_accepts_rs256_and_refuses_cli_tokens(
    settings: Settings,
) -> None:
    import httpx

    from deskgraph.server.app import create_app

    app = create_app(Settings(database_url=settings.database_url, token_public_key=pem(RSA_KEY)))
    query = {"query": "{ viewer { kind } }"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t.test") as client:
        good = jwt.encode(claims(), RSA_KEY, algorithm="RS256")
        response = await client.post(
            "/graphql", json=query, headers={"Authorization": f"Bearer {good}"}
        )
        assert response.json() == {"data": {"viewer": {"kind": "ADVISOR"}}, "extensions": ANY}
        hs = issue_token(settings, Principal(kind="advisor", id=2))
        response = await client.post(
            "/graphql", json=query, headers={"Authorization": f"Bearer {hs}"}
        )
        assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    await app.state.engine.dispose()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DESKGRAPH_ENV": "production"}, "DESKGRAPH_TOKEN_PUBLIC_KEY"),
        (
            {"DESKGRAPH_TOKEN_PUBLIC_KEY": "x", "DESKGRAPH_TOKEN_JWKS_URL": "http://127.0.0.1/j"},
            "not both",
        ),
    ],
)
def test_settings_refuse_unsafe_token_configuration(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(environ)


def test_production_may_use_a_jwks_instead_of_a_secret() -> None:
    settings = Settings.from_env(
        {"DESKGRAPH_ENV": "production", "DESKGRAPH_TOKEN_JWKS_URL": "https://idp.example/jwks"}
    )
    assert settings.token_jwks_url == "https://idp.example/jwks"


VIEWER_QUERY = {"query": "query VIEWER { viewer { kind } }"}


@pytest.mark.parametrize(
    "subject",
    ["advisor:\u00b2", "advisor:\u0661", "customer_user:\uff11", "advisor:", "advisor:-1", "x:1"],
    ids=["superscript-two", "arabic-indic-one", "fullwidth-one", "empty", "negative", "kind"],
)
async def test_viewer_token_with_malformed_subject_is_unauthenticated(
    api: Api, settings: Settings, subject: str, caplog: pytest.LogCaptureFixture
) -> None:
    token = jwt.encode(claims(sub=subject), settings.token_secret, algorithm="HS256")
    with caplog.at_level(logging.INFO, logger="deskgraph.auth"):
        response = await api.http.post(
            "/graphql", json=VIEWER_QUERY, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": "The token's subject is malformed (sub).",
                "locations": [{"line": 1, "column": 16}],
                "path": ["viewer"],
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ],
        "extensions": ANY,  # the cost
    }
    assert "token refused (sub)" in caplog.text
    assert token not in caplog.text


async def test_viewer_token_expired_says_so_over_http(api: Api, settings: Settings) -> None:
    token = issue_token(settings, Principal(kind="advisor", id=2), ttl_seconds=-3600)
    response = await api.http.post(
        "/graphql", json=VIEWER_QUERY, headers={"Authorization": f"Bearer {token}"}
    )
    error = response.json()["errors"][0]
    assert (error["message"], error["extensions"]) == (
        "The token has expired (exp).",
        {"code": "UNAUTHENTICATED"},
    )


@pytest.mark.parametrize("subject", ["advisor:\u00b2", "advisor:\u0661"], ids=["two", "one"])
async def test_subscription_token_with_malformed_subject_is_closed_with_4403(
    served: Served, settings: Settings, subject: str
) -> None:
    token = jwt.encode(claims(sub=subject), settings.token_secret, algorithm="HS256")
    protocols = [Subprotocol("graphql-transport-ws")]
    async with connect(served.ws_url, subprotocols=protocols, open_timeout=10) as socket:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await socket.send(json.dumps(init))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403


async def test_a_verified_token_is_kept_until_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The second request with a token does not verify it again, until the token expires
    (with the leeway: then it is verified again, which refuses an expired token as ever); a
    refused token is never kept."""
    verifier = TokenVerifier(Settings(token_public_key=pem(RSA_KEY)))
    decoded = []
    decode = jwt.decode

    def counted(*args: Any, **kwargs: Any) -> Any:
        decoded.append(args[0])
        return decode(*args, **kwargs)

    monkeypatch.setattr("deskgraph.auth.tokens.jwt.decode", counted)
    issued = int(time.time())
    token = jwt.encode(claims(exp=issued + 60), RSA_KEY, algorithm="RS256")
    for _ in range(3):
        assert await verifier.verify(token) == Principal(kind="advisor", id=2)
    assert len(decoded) == 1
    forged = hs256_forged_with(pem(RSA_KEY))
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await verifier.verify(forged)
    assert len(decoded) == 3
    # Past its expiry and the leeway (by this module's clock; PyJWT reads the real one, so
    # the token verifies again rather than being refused: what counts is that it is checked).
    later = issued + 60 + LEEWAY_SECONDS
    monkeypatch.setattr("deskgraph.auth.tokens.time.time", lambda: later)
    assert await verifier.verify(token) == Principal(kind="advisor", id=2)
    assert len(decoded) == 4
