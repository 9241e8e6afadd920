"""Merge candidates of a card (``CustomerCard.mergeCandidates``): the cards of its
organization that may be the same contact, read for every card of a tick at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Row

from deskgraph.auth import card as rules
from deskgraph.auth.viewer import Actor
from deskgraph.loaders.base import LIKE_ESCAPE, DataLoader, Reader, group_rows, like_literal
from deskgraph.loaders.card import cards, customer_users, identities
from deskgraph.store import models


class MergeReason(NamedTuple):
    card: Row[Any]
    reasons: tuple[str, ...]


REASON_ORDER = ("SAME_PHONE", "SAME_EMAIL", "SAME_CUSTOMER_USER", "SIMILAR_NAME")


def name_tokens(name_key: str | None) -> tuple[str, str] | None:
    """A name's first and last token (casefolded): "Anna Maria Berg" and "anna berg" are
    similar. None for a name of one token or none."""
    tokens = (name_key or "").split()
    return (tokens[0], tokens[-1]) if len(tokens) >= 2 else None


class MergeCandidatesKey(NamedTuple):
    card_id: int
    viewer: Actor
    first: int


class MergeCandidatesLoader(DataLoader[MergeCandidatesKey, list[MergeReason]]):
    """Cards that may be the same contact as a card, best first: cards holding a PHONE or
    EMAIL identity equal to the card's customer user's phone / mobile / e-mail, or whose
    customer user's phone / mobile / e-mail is one of the card's identities (SAME_PHONE,
    SAME_EMAIL); cards of the same customer user (SAME_CUSTOMER_USER); cards whose name key
    is the same, or whose name has the same first and last token (SIMILAR_NAME). Live cards of
    the same organization that the viewer sees, never the card itself; then by id. A fixed
    handful of statements for every key of a tick."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[MergeCandidatesKey]) -> list[list[MergeReason]]:
        card_ids = sorted({k.card_id for k in keys})
        own = {
            r.id: r
            for r in await self.reader.rows(select(*cards.c).where(cards.c.id.in_(card_ids)))
        }
        organization_ids = sorted({r.organization_id for r in own.values()})
        user_ids = sorted({r.customer_user_id for r in own.values() if r.customer_user_id})
        users = await self._customer_users(user_ids)
        identities_of = await self._identities_by_card(card_ids)
        phones: set[str] = set()
        emails: set[str] = set()
        first_tokens: set[str] = set()
        for row in own.values():
            user = users.get(row.customer_user_id)
            if user is not None:
                phones |= {p for p in (user.phone, user.mobile) if p}
                if user.email_key:
                    emails.add(user.email_key)
            for identity in identities_of[row.id]:
                if identity.kind is models.IdentityKind.PHONE:
                    phones.add(identity.address)
                elif identity.kind is models.IdentityKind.EMAIL:
                    emails.add(identity.address)
            tokens = name_tokens(row.name_key)
            if tokens:
                first_tokens.add(tokens[0])
        name_keys = sorted({r.name_key for r in own.values() if r.name_key})
        c = cards.c
        u = customer_users.c
        i = identities.c
        matched = or_(
            c.id.in_(
                select(i.card_id).where(
                    or_(
                        and_(i.kind == models.IdentityKind.PHONE, i.address.in_(sorted(phones))),
                        and_(i.kind == models.IdentityKind.EMAIL, i.address.in_(sorted(emails))),
                    )
                )
            ),
            c.customer_user_id.in_(
                select(u.id).where(
                    or_(
                        u.phone.in_(sorted(phones)),
                        u.mobile.in_(sorted(phones)),
                        u.email_key.in_(sorted(emails)),
                    )
                )
            ),
            c.customer_user_id.in_(user_ids),
            c.name_key.in_(name_keys),
            *[
                c.name_key.like(f"{like_literal(t)} %", escape=LIKE_ESCAPE)
                for t in sorted(first_tokens)
            ],
        )
        others = list(
            await self.reader.rows(
                select(*cards.c, u.phone, u.mobile, u.email_key)
                .join_from(cards, customer_users, u.id == c.customer_user_id, isouter=True)
                .where(
                    c.organization_id.in_(organization_ids),
                    c.merged_into_id.is_(None),
                    matched,
                )
                .order_by(c.id)
            )
        )
        other_ids = [r.id for r in others]
        other_identities = await self._identities_by_card(other_ids)
        visible = {
            viewer: await self._visible(viewer, other_ids) for viewer in {k.viewer for k in keys}
        }
        answers: list[list[MergeReason]] = []
        for key in keys:
            card = own.get(key.card_id)
            if card is None:
                answers.append([])
                continue
            found = []
            for other in others:
                if other.id == card.id or other.organization_id != card.organization_id:
                    continue
                if other.id not in visible[key.viewer]:
                    continue
                reasons = _reasons(
                    card,
                    users.get(card.customer_user_id),
                    identities_of[card.id],
                    other,
                    other_identities[other.id],
                )
                if reasons:
                    found.append(MergeReason(other, reasons))
            found.sort(key=lambda m: (REASON_ORDER.index(m.reasons[0]), m.card.id))
            answers.append(found[: key.first])
        return answers

    async def _customer_users(self, user_ids: list[int]) -> dict[int, Row[Any]]:
        """The phone, mobile and e-mail key of customer users, by id."""
        if not user_ids:
            return {}
        u = customer_users.c
        statement = select(u.id, u.phone, u.mobile, u.email_key).where(u.id.in_(user_ids))
        return {row.id: row for row in await self.reader.rows(statement)}

    async def _identities_by_card(self, card_ids: list[int]) -> dict[int, list[Row[Any]]]:
        if not card_ids:
            return {}
        statement = select(*identities.c).where(identities.c.card_id.in_(card_ids))
        grouped = group_rows(await self.reader.rows(statement), card_ids, "card_id")
        return dict(zip(card_ids, grouped, strict=True))

    async def _visible(self, viewer: Actor, card_ids: list[int]) -> set[int]:
        """Which of the cards the viewer sees (``auth.card.card_scope``)."""
        if not card_ids:
            return set()
        statement = select(cards.c.id).where(cards.c.id.in_(card_ids), rules.card_scope(viewer))
        return {row.id for row in await self.reader.rows(statement)}


def _reasons(
    card: Any, user: Any, own_identities: list[Any], other: Any, other_identities: list[Any]
) -> tuple[str, ...]:
    def phones_of(person: Any) -> set[str]:
        if person is None:
            return set()
        return {p for p in (person.phone, person.mobile) if p}

    def addresses(rows: list[Any], kind: models.IdentityKind) -> set[str]:
        return {r.address for r in rows if r.kind is kind}

    other_user = other if other.customer_user_id is not None else None
    reasons = []
    own_phones = addresses(own_identities, models.IdentityKind.PHONE)
    other_phones = addresses(other_identities, models.IdentityKind.PHONE)
    if (phones_of(user) & other_phones) or (phones_of(other_user) & own_phones):
        reasons.append("SAME_PHONE")
    own_emails = addresses(own_identities, models.IdentityKind.EMAIL)
    other_emails = addresses(other_identities, models.IdentityKind.EMAIL)
    user_email = {user.email_key} if user is not None and user.email_key else set()
    other_email = {other.email_key} if other_user is not None and other.email_key else set()
    if (user_email & other_emails) or (other_email & own_emails):
        reasons.append("SAME_EMAIL")
    if card.customer_user_id is not None and card.customer_user_id == other.customer_user_id:
        reasons.append("SAME_CUSTOMER_USER")
    if card.name_key and (
        card.name_key == other.name_key
        or (
            name_tokens(card.name_key) is not None
            and name_tokens(card.name_key) == name_tokens(other.name_key)
        )
    ):
        reasons.append("SIMILAR_NAME")
    return tuple(reasons)
