"""Bearer tokens (JWT) <-> principals.

A token's ``sub`` names the principal: ``advisor:<id>``, ``customer_user:<id>`` or
``service:<name>``; a service token also carries ``scope`` (space-separated). Development
tokens are HS256 with the configured secret; ``iss``, ``aud``, ``exp`` and ``nbf`` are checked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import jwt

from deskgraph.errors import Unauthenticated
from deskgraph.settings import Settings

PrincipalKind = Literal["advisor", "customer_user", "service"]
_KINDS: tuple[PrincipalKind, ...] = ("advisor", "customer_user", "service")
ALGORITHMS = ["HS256"]


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
    """The principal a token names; UNAUTHENTICATED when it is not valid now."""
    try:
        claims = jwt.decode(
            token,
            settings.token_secret,
            algorithms=ALGORITHMS,
            audience=settings.token_audience,
            issuer=settings.token_issuer,
            options={"require": ["sub", "exp", "iss", "aud"]},
            leeway=30,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("The token has expired.") from exc
    except jwt.PyJWTError as exc:
        raise Unauthenticated("The token is not valid.") from exc
    return _principal_from_subject(str(claims["sub"]), claims.get("scope"))


def _principal_from_subject(subject: str, scope: object) -> Principal:
    kind, _, ident = subject.partition(":")
    scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
    for known in _KINDS:
        if kind != known or not ident:
            continue
        if known == "service":
            return Principal(kind="service", service=ident, scopes=scopes)
        if ident.isdigit():
            return Principal(kind=known, id=int(ident))
    raise Unauthenticated("The token names no known principal.")
