"""An organization's CRM configuration (issue 16): read by its ADMINs, set whole by
``configureCrm``. Every value is checked before anything is written: the URLs against the hosts
the operator allows, the secret as a reference (never a value), the field names and labels."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from deskgraph.errors import BadUserInput
from deskgraph.resolvers.crm_write import FIELD_NAME, organization_to_configure
from deskgraph.schema.crm import (
    CrmCardField,
    CrmConfiguration,
    CrmInteractionField,
)
from deskgraph.schema.crm_inputs import ConfigureCrmInput, ConfigureCrmPayload
from deskgraph.schema.organization import Organization
from deskgraph.server.context import Info
from deskgraph.sources.crm.base import CrmKind, CrmRecordType
from deskgraph.sources.crm.registry import (
    CrmConfig,
    CrmConfigurationError,
    check_secret_ref,
    check_url,
)
from deskgraph.store import crm as store
from deskgraph.store.crm_models import InteractionValue
from deskgraph.store.models import utcnow
from deskgraph.store.session import write

LABEL_LENGTH = 100
CLIENT_ID_LENGTH = 200
MAX_MAPPED = 50  # fields per record type in each mapping


def configuration(config: CrmConfig) -> CrmConfiguration:
    return CrmConfiguration(
        kind=config.kind,
        base_url=config.base_url,
        token_url=config.token_url,
        client_id=config.client_id,
        secret=config.secret_ref,
        creatable_types=config.creatable_in_order,
        card_fields=[
            CrmCardField(type=t, label=label, field=name)
            for t, pairs in config.card_fields.items()
            for label, name in pairs
        ],
        interaction_fields=[
            CrmInteractionField(type=t, field=name, value=value)
            for t, mapping in config.interaction_fields.items()
            for name, value in mapping.items()
        ],
        version=config.version,
    )


async def organization_configuration(info: Info, organization_id: int) -> CrmConfiguration | None:
    config = await info.context.loaders.crm_config.load(organization_id)
    return None if config is None else configuration(config)


def _bad(field: str, message: str) -> BadUserInput:
    return BadUserInput(f"`{field}`: {message}", fields={field: message})


def _text(value: str | None, field: str, length: int) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if "\x00" in value or len(value) > length:
        raise _bad(field, f"at most {length} characters, no NUL bytes")
    return value


def _field_name(name: str, field: str) -> str:
    if not FIELD_NAME.fullmatch(name):
        raise _bad(field, "a CRM field name: letters, digits, `_`, `.`, `@`, up to 100")
    return name


def _connection(info: Info, input: ConfigureCrmInput) -> dict[str, Any]:
    settings = info.context.settings
    kind = CrmKind(input.kind)
    given = {
        "baseUrl": input.base_url,
        "tokenUrl": input.token_url,
        "clientId": input.client_id,
        "secret": input.secret,
    }
    if kind is CrmKind.BUILTIN:
        for name, value in given.items():
            if value is not None:
                raise _bad(name, "the built-in CRM takes no connection")
        return {"base_url": None, "token_url": None, "client_id": None, "secret_ref": None}
    for name in ("baseUrl", "clientId", "secret"):
        if not (given[name] or "").strip():
            raise _bad(name, f"required for {kind.value}")
    base_url = _checked(
        "baseUrl", lambda: check_url(_stripped(input.base_url), settings, what="baseUrl")
    )
    token_url = None
    if input.token_url is not None:
        token_url = _checked(
            "tokenUrl", lambda: check_url(_stripped(input.token_url), settings, what="tokenUrl")
        )
    secret_ref = _checked("secret", lambda: check_secret_ref(_stripped(input.secret)))
    return {
        "base_url": base_url,
        "token_url": token_url,
        "client_id": _text(input.client_id, "clientId", CLIENT_ID_LENGTH),
        "secret_ref": secret_ref,
    }


def _stripped(value: str | None) -> str:
    return (value or "").strip()


def _checked(field: str, check: Callable[[], str]) -> str:
    try:
        return check()
    except CrmConfigurationError as error:
        raise _bad(field, str(error)) from None


def _card_fields(input: ConfigureCrmInput) -> dict[CrmRecordType, list[tuple[str, str]]]:
    mapped: dict[CrmRecordType, list[tuple[str, str]]] = {}
    for n, item in enumerate(input.card_fields):
        where = f"cardFields.{n}"
        label = _text(item.label, f"{where}.label", LABEL_LENGTH)
        if label is None:
            raise _bad(f"{where}.label", "required")
        pairs = mapped.setdefault(CrmRecordType(item.type), [])
        if any(existing == label for existing, _ in pairs):
            raise _bad(f"{where}.label", "given twice for the type")
        pairs.append((label, _field_name(item.field, f"{where}.field")))
        _at_most(pairs, f"{where}")
    return mapped


def _interaction_fields(
    input: ConfigureCrmInput,
) -> dict[CrmRecordType, dict[str, InteractionValue]]:
    mapped: dict[CrmRecordType, dict[str, InteractionValue]] = {}
    for n, item in enumerate(input.interaction_fields):
        where = f"interactionFields.{n}"
        fields = mapped.setdefault(CrmRecordType(item.type), {})
        name = _field_name(item.field, f"{where}.field")
        if name in fields:
            raise _bad(f"{where}.field", "given twice for the type")
        fields[name] = InteractionValue(item.value)
        _at_most(fields, where)
    return mapped


def _at_most(mapped: Sequence[Any] | dict[str, Any], where: str) -> None:
    if len(mapped) > MAX_MAPPED:
        raise _bad(where, f"at most {MAX_MAPPED} fields per record type")


async def configure_crm(info: Info, input: ConfigureCrmInput) -> ConfigureCrmPayload:
    viewer = info.context.require_viewer()
    organization_id = await organization_to_configure(info, input.organization_id)
    connection = _connection(info, input)
    card_fields = _card_fields(input)
    interaction_fields = _interaction_fields(input)
    async with write(info.context.session) as session:
        await store.configure(
            session,
            organization_id=organization_id,
            kind=CrmKind(input.kind),
            creatable_types={CrmRecordType(t) for t in input.creatable_types},
            card_fields=card_fields,
            interaction_fields=interaction_fields,
            version=input.version,
            advisor_id=viewer.advisor_id,
            now=utcnow(),
            **connection,
        )
    info.context.loaders.sources.crm.forget(organization_id)
    info.context.reset_loaders()
    loaders = info.context.loaders
    config = await loaders.crm_config.load(organization_id)
    assert config is not None  # just written
    row = await loaders.organization_by_id.load(organization_id)
    return ConfigureCrmPayload(
        organization=Organization.from_row(row), configuration=configuration(config)
    )
