"""Bearer tokens (JWT) <-> principals.

A token's ``sub`` names the principal: ``advisor:<id>``, ``customer_user:<id>`` or
``service:<name>``; a service token also carries ``scope`` (space-separated, see
``deskgraph.auth.scopes``). ``iss``, ``aud`` and ``exp`` are required and checked, ``nbf`` when
present.

Tokens are verified with exactly one kind of key, chosen by the settings:
- a JWKS document (``DESKGRAPH_TOKEN_JWKS_URL``): RS256 / ES256, the key picked by ``kid``;
- a PEM public key (``DESKGRAPH_TOKEN_PUBLIC_KEY``): RS256 for an RSA key, ES256 for P-256;
- otherwise the shared secret (``DESKGRAPH_TOKEN_SECRET``): HS256, for development and tests.
A verifier with a public key never accepts HS256, so a public key can never be used as an HMAC
secret (the algorithm-confusion attack).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import jwt
from cachetools import LRUCache
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from deskgraph.errors import Unauthenticated
from deskgraph.ids import ascii_number
from deskgraph.settings import Settings
from deskgraph.sources.http import upstream_client

logger = logging.getLogger("deskgraph.auth")

PrincipalKind = Literal["advisor", "customer_user", "service"]
_KINDS: tuple[PrincipalKind, ...] = ("advisor", "customer_user", "service")
LEEWAY_SECONDS = 30
# How often an unknown ``kid`` may make the verifier fetch the key set again (key rotation).
JWKS_REFETCH_SECONDS = 30.0
# After a failed fetch, the JWKS is not asked again for this long: while the identity provider
# is down every request is refused at once, instead of each waiting for a fetch of its own.
JWKS_FAILURE_SECONDS = 5.0
JWKS_TIMEOUT_SECONDS = 5.0
VERIFIED_TOKENS = 10_000  # tokens a verifier keeps verified, as many viewers as are kept


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    id: int | None = None
    service: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def subject(self) -> str:
        return f"{self.kind}:{self.service if self.kind == 'service' else self.id}"


def issue_token(settings: Settings, principal: Principal, *, ttl_seconds: int = 86_400) -> str:
    """An HS256 token signed with the shared secret (development, tests and the CLI)."""
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": principal.subject,
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
    }
    if principal.scopes:
        claims["scope"] = " ".join(sorted(principal.scopes))
    return jwt.encode(claims, settings.token_secret, algorithm="HS256")


def verify_token(settings: Settings, token: str) -> Principal:
    """The principal of an HS256 token signed with the shared secret; UNAUTHENTICATED if not
    valid now. Deployments with a public key or a JWKS use :class:`TokenVerifier`."""
    return _decode(settings, token, settings.token_secret, ["HS256"])


class TokenVerifier:
    """Verifies bearer tokens with the key the settings configure; one per process."""

    def __init__(self, settings: Settings, *, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._public_key: Any = None
        self._jwks: JwksCache | None = None
        # token -> (its principal, its expiry with the leeway (time.time), and how long the key
        # it was checked with is kept (time.monotonic)): answered again without checking
        self._verified: LRUCache[str, tuple[Principal, float, float]] = LRUCache(VERIFIED_TOKENS)
        if settings.token_jwks_url:
            self._jwks = JwksCache(
                settings.token_jwks_url, max_age=settings.token_jwks_cache_seconds, http=http
            )
        elif settings.token_public_key:
            self._public_key = load_public_key(settings.token_public_key)

    @property
    def mode(self) -> str:
        return "jwks" if self._jwks else "public-key" if self._public_key is not None else "secret"

    async def verify(self, token: str) -> Principal:
        """The token's principal; UNAUTHENTICATED if it is not valid now.

        A token verified before answers from memory until it expires (``exp`` with the
        leeway; with a JWKS, no longer than the key set is cached either): a client sends the
        same token with every request, and verifying it again (base64, JSON, the signature,
        the claims) was a tenth of the CPU of a small query. Its other checks (signature,
        issuer, audience, ``nbf``, ``iat``) cannot turn false while the key stays the same."""
        kept = self._verified.get(token)
        if kept is not None:
            principal, expires, fresh_until = kept
            if time.time() < expires and time.monotonic() < fresh_until:
                return principal
            del self._verified[token]
        claims = await self._claims(token)
        expires = float(claims["exp"]) + LEEWAY_SECONDS
        # As long as the key set it was checked against (JwksCache's clock); a fixed key: ever.
        fresh_until = time.monotonic() + self._jwks.max_age if self._jwks else math.inf
        principal = _principal_from_subject(claims["sub"], claims.get("scope"))
        self._verified[token] = (principal, expires, fresh_until)
        return principal

    async def _claims(self, token: str) -> dict[str, Any]:
        if self._jwks is not None:
            kid = _header(token).get("kid")
            key = await self._jwks.key(kid if isinstance(kid, str) else None)
            return _checked_claims(self.settings, token, key.key, [key.algorithm])
        if self._public_key is not None:
            algorithms = [_algorithm_of(self._public_key)]
            return _checked_claims(self.settings, token, self._public_key, algorithms)
        return _checked_claims(self.settings, token, self.settings.token_secret, ["HS256"])

    async def aclose(self) -> None:
        if self._jwks is not None:
            await self._jwks.aclose()


def load_public_key(value: str) -> Any:
    """A PEM public key given inline (``-----BEGIN PUBLIC KEY-----...``) or as a file path."""
    pem = value if value.lstrip().startswith("-----BEGIN") else _read(value)
    try:
        key = load_pem_public_key(pem.encode())
    except ValueError as exc:
        raise ValueError("DESKGRAPH_TOKEN_PUBLIC_KEY is not a PEM public key") from exc
    _algorithm_of(key)  # refuse unsupported key types at start-up, not per request
    return key


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read()
    except OSError as exc:
        raise ValueError(f"DESKGRAPH_TOKEN_PUBLIC_KEY: cannot read {path!r}: {exc}") from exc


def _algorithm_of(key: Any) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise ValueError("token keys must be RSA (RS256) or EC P-256 (ES256)")


@dataclass(frozen=True)
class JwksKey:
    key: Any
    algorithm: str


class JwksCache:
    """The keys of a JWKS document, fetched on first use, again once they are ``max_age``
    seconds old (a key removed from the set stops working by then), and when a token names
    an unknown ``kid`` (at most every :data:`JWKS_REFETCH_SECONDS`)."""

    def __init__(
        self, url: str, *, max_age: float = 300.0, http: httpx.AsyncClient | None = None
    ) -> None:
        self.url = url
        self.max_age = max_age
        self._loaded_at: float | None = None
        self._http = http or upstream_client(JWKS_TIMEOUT_SECONDS)
        self._owns_http = http is None
        self._keys: dict[str | None, JwksKey] = {}
        self._fetched_at: float | None = None
        self._failed_at: float | None = None
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> JwksKey:
        if self._expired():
            self._refuse_if_recently_failed()
            async with self._lock:
                if self._expired():
                    self._refuse_if_recently_failed()  # another request just tried
                    # Keys past their age are never used, even when the JWKS cannot be fetched.
                    self._keys = {}
                    self._fetched_at = None
                    await self._fetch()
        found = self._find(kid)
        if found is None and self._may_refetch():
            self._refuse_if_recently_failed()
            async with self._lock:
                if self._find(kid) is None and self._may_refetch():
                    self._refuse_if_recently_failed()
                    await self._fetch()
            found = self._find(kid)
        if found is None:
            raise refused("kid", "The token's signing key is not in the key set (kid).")
        return found

    def _refuse_if_recently_failed(self) -> None:
        if self._failed_at is not None and time.monotonic() - self._failed_at < (
            JWKS_FAILURE_SECONDS
        ):
            raise _keys_unavailable()

    def _expired(self) -> bool:
        return self._loaded_at is None or time.monotonic() - self._loaded_at >= self.max_age

    def _find(self, kid: str | None) -> JwksKey | None:
        if kid is None:
            # A token without ``kid`` is accepted only when the set holds a single key.
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _may_refetch(self) -> bool:
        return self._fetched_at is None or time.monotonic() - self._fetched_at > (
            JWKS_REFETCH_SECONDS
        )

    async def _fetch(self) -> None:
        self._fetched_at = time.monotonic()
        try:
            response = await self._http.get(self.url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            logger.error("cannot fetch the JWKS at %s: %s", self.url, exc)
            self._failed_at = time.monotonic()
            if not self._keys:
                self._fetched_at = None  # nothing cached: try again once the interval is over
            raise _keys_unavailable() from exc
        self._failed_at = None
        self._keys = parse_jwks(document)
        self._loaded_at = time.monotonic()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()


def _keys_unavailable() -> Unauthenticated:
    return Unauthenticated(
        "The token cannot be verified right now: the signing keys are unavailable."
    )


def parse_jwks(document: Any) -> dict[str | None, JwksKey]:
    """The RS256 / ES256 signing keys of a JWKS document; other keys are skipped."""
    keys: dict[str | None, JwksKey] = {}
    entries = document.get("keys") if isinstance(document, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            jwk = jwt.PyJWK.from_dict(entry)
            algorithm = _algorithm_of(jwk.key)
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            logger.warning("skipping an unusable key in the JWKS (kid %r)", entry.get("kid"))
            continue
        if entry.get("alg", algorithm) != algorithm:
            continue
        keys[entry.get("kid")] = JwksKey(key=jwk.key, algorithm=algorithm)
    return keys


def _header(token: str) -> dict[str, Any]:
    try:
        return jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise refused("malformed", "The token is malformed (not a JWT).") from exc


# Which check refused a token, and what the client is told; the first class that matches wins
# (InvalidSignatureError is a DecodeError).
_CHECKS: tuple[tuple[type[jwt.PyJWTError], str, str], ...] = (
    (jwt.ExpiredSignatureError, "exp", "The token has expired (exp)."),
    (jwt.ImmatureSignatureError, "nbf", "The token is not valid yet (nbf)."),
    (jwt.InvalidAudienceError, "aud", "The token is meant for another audience (aud)."),
    (jwt.InvalidIssuerError, "iss", "The token comes from another issuer (iss)."),
    (jwt.InvalidSignatureError, "signature", "The token's signature does not verify."),
    (jwt.InvalidAlgorithmError, "alg", "The token is signed with an algorithm not accepted here."),
    (jwt.MissingRequiredClaimError, "claims", "The token lacks a required claim."),
    (jwt.DecodeError, "malformed", "The token is malformed (not a JWT)."),
)


def refused(check: str, message: str, detail: object = None) -> Unauthenticated:
    """UNAUTHENTICATED saying which check failed; the reason is logged (never the token)."""
    logger.info("token refused (%s): %s", check, detail or message)
    return Unauthenticated(message)


def _decode(settings: Settings, token: str, key: Any, algorithms: list[str]) -> Principal:
    claims = _checked_claims(settings, token, key, algorithms)
    return _principal_from_subject(claims["sub"], claims.get("scope"))


def _checked_claims(
    settings: Settings, token: str, key: Any, algorithms: list[str]
) -> dict[str, Any]:
    """The claims of a token whose signature and claims check; UNAUTHENTICATED if not."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=settings.token_audience,
            issuer=settings.token_issuer,
            options={"require": ["sub", "exp", "iss", "aud"]},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.PyJWTError as exc:
        for kind, check, message in _CHECKS:
            if isinstance(exc, kind):
                if isinstance(exc, jwt.MissingRequiredClaimError):
                    message = f"The token lacks the {exc.claim!r} claim."
                raise refused(check, message, exc) from exc
        raise refused("invalid", "The token is not valid.", exc) from exc
    return claims


def _principal_from_subject(subject: object, scope: object) -> Principal:
    kind, _, ident = subject.partition(":") if isinstance(subject, str) else ("", "", "")
    scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
    for known in _KINDS:
        if kind != known or not ident:
            continue
        if known == "service":
            return Principal(kind="service", service=ident, scopes=scopes)
        if (number := ascii_number(ident)) is not None:  # ASCII digits only (ids.py)
            return Principal(kind=known, id=number)
    raise refused(
        "sub", "The token's subject is malformed (sub).", f"subject {str(subject)[:80]!r}"
    )
