"""The simulated Salesforce org behind the simulator's HTTP: its schema, records, and the
REST resources as plain methods (SOQL query with paging, SOSL search, sObject create, read and
update), answering Salesforce's status codes and JSON, errors included.

The schema is the standard objects' fields deskgraph reads (and a few more), plus the sync-key
custom field; a test can add fields (``org.fields[type].append(...)``) and change which are
required (``org.required_fields``). Like Salesforce, adding a Contact with an ``AccountId``
also adds its direct ``AccountContactRelation``; ids are real 18-character ids (key prefix,
checksum). Phone fields are free text: a SOSL term of digits matches a phone field whose digits
end with them (so ``41234567`` finds ``+47 412 34 567``), an approximation of Salesforce's
search index that the adapter's own E.164 matching does not depend on.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from deskgraph.sources.crm import salesforce_soql as soql
from deskgraph.sources.crm.salesforce_wire import id18, id_checksum

SEARCH_LIMIT = 2000
ID_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "Case": "500",
    "AccountContactRelation": "07k",
}
SYNC_KEY = "Deskgraph_Sync_Key__c"
FIELDS: dict[str, tuple[str, ...]] = {
    "Account": ("Id", "Name", "Phone", "Fax", "Type", "Industry", "Website", "BillingStreet",
                "BillingCity", "BillingPostalCode", "BillingCountry", "Description", SYNC_KEY),
    "Contact": ("Id", "Name", "FirstName", "LastName", "Salutation", "Title", "Phone",
                "MobilePhone", "HomePhone", "OtherPhone", "Email", "AccountId", "MailingStreet",
                "MailingCity", "MailingPostalCode", "MailingCountry", "Description", SYNC_KEY),
    "Lead": ("Id", "Name", "FirstName", "LastName", "Company", "Title", "Phone", "MobilePhone",
             "Email", "Status", "LeadSource", "Street", "City", "PostalCode", "Country",
             "Description", SYNC_KEY),
    "Case": ("Id", "CaseNumber", "Subject", "Description", "Status", "Priority", "Origin",
             "AccountId", "ContactId", "IsClosed", "CreatedDate", SYNC_KEY),
    "AccountContactRelation": ("Id", "AccountId", "ContactId", "Roles", "IsDirect", "IsActive"),
}  # fmt: skip
READ_ONLY = frozenset({"Id", "CaseNumber", "IsClosed", "CreatedDate", "IsDirect"})
COMPUTED_NAME = frozenset({"Contact", "Lead"})  # Name is FirstName + LastName there
LOOKUPS = {"AccountId": "Account", "ContactId": "Contact"}
PHONE_FIELDS = frozenset({"Phone", "MobilePhone", "HomePhone", "OtherPhone", "Fax"})
NAME_FIELDS = frozenset({"Name", "FirstName", "LastName", "Company"})
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase

Answer = tuple[int, Any]  # HTTP status and JSON body (None: no body)


def make_id(type_name: str, serial: int) -> str:
    number = ""
    while serial:
        serial, digit = divmod(serial, 62)
        number = _BASE62[digit] + number
    id15 = ID_PREFIXES[type_name] + "Dg" + number.rjust(10, "0")
    return id15 + id_checksum(id15)


def error(status: int, code: str, message: str, fields: Iterable[str] = ()) -> Answer:
    return status, [{"message": message, "errorCode": code, "fields": list(fields)}]


class SimulatedOrg:
    """An org's records and its REST resources."""

    page_size = 2000  # records per query page, as Salesforce's default batch size

    def __init__(self, *, records: Iterable[tuple[str, Mapping[str, Any]]] = ()) -> None:
        self.fields = {type_name: list(names) for type_name, names in FIELDS.items()}
        self.required_fields = {
            "Account": {"Name"},
            "Contact": {"LastName"},
            "Lead": {"LastName", "Company"},
            "Case": set[str](),
            "AccountContactRelation": {"AccountId", "ContactId"},
        }
        self.objects: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in FIELDS}
        self.updates: list[tuple[str, str, dict[str, Any]]] = []
        self._cursors: dict[str, list[dict[str, Any]]] = {}
        self._serial = 100
        for type_name, fields in records:
            self.add(type_name, **fields)

    def add(self, type_name: str, **fields: Any) -> str:
        """Add a record (as an admin would: no checks) and answer its id."""
        self._serial += 1
        record_id = fields.pop("Id", None) or make_id(type_name, self._serial)
        if type_name == "AccountContactRelation":
            for existing in self.objects[type_name].values():
                if (existing["AccountId"], existing["ContactId"]) == (
                    fields["AccountId"],
                    fields["ContactId"],
                ):
                    existing.update(fields)
                    return str(existing["Id"])
        record = {name: None for name in self.fields[type_name]} | fields | {"Id": record_id}
        if type_name in COMPUTED_NAME:
            parts = (record.get("FirstName"), record.get("LastName"))
            record["Name"] = " ".join(part for part in parts if part)
        if type_name == "Case":
            record["CaseNumber"] = f"{self._serial:08d}"
            record["IsClosed"] = record.get("Status") == "Closed"
            record["CreatedDate"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        if type_name == "AccountContactRelation":
            record["IsActive"] = record.get("IsActive", True) is not False
        self.objects[type_name][record_id] = record
        if type_name == "Contact" and record.get("AccountId"):
            self.add(
                "AccountContactRelation",
                AccountId=record["AccountId"],
                ContactId=record_id,
                IsDirect=True,
            )
        return str(record_id)

    def resource(
        self, method: str, version: str, rest: str, params: dict[str, str], body: Any
    ) -> tuple[str, Answer]:
        """What ``method`` on ``rest`` (under ``/services/data/{version}/``) answers, and the
        kind of request it was (``query``, ``search``, ``create``, ``read``, ``update``)."""
        path = rest.strip("/").split("/")
        if path == ["query"] and method == "GET":
            return "query", self._query(version, params.get("q", ""))
        if len(path) == 2 and path[0] == "query" and method == "GET":
            return "query", self._next_page(version, path[1])
        if path == ["search"] and method == "GET":
            return "search", self._search(version, params.get("q", ""))
        if len(path) == 2 and path[0] == "sobjects" and method == "POST":
            return "create", self._create(path[1], body)
        if len(path) == 3 and path[0] == "sobjects" and method in ("GET", "PATCH"):
            if method == "GET":
                return "read", self._read(version, path[1], path[2], params.get("fields"))
            return "update", self._update(path[1], path[2], body)
        return "invalid", error(404, "NOT_FOUND", "The requested resource does not exist")

    # -- resources ---------------------------------------------------------------------------

    def _query(self, version: str, text: str) -> Answer:
        try:
            select = soql.parse_soql(text)
            type_name = self._type(select.sobject)
            fields = [self._field(type_name, name) for name in select.fields]
            where = self._condition(type_name, select.where) if select.where else _everything
            order = self._order(type_name, select.order_by)
        except soql.MalformedQuery as problem:
            return error(400, "MALFORMED_QUERY", str(problem))
        except _Refusal as refusal:
            return refusal.answer
        rows = [record for record in self.objects[type_name].values() if where(record)]
        rows = _ordered(rows, order, select.limit)
        rendered = [self._render(version, type_name, record, fields) for record in rows]
        return 200, self._page(version, rendered, 0, len(rendered))

    def _next_page(self, version: str, locator: str) -> Answer:
        cursor, _, offset = locator.rpartition("-")
        rows = self._cursors.get(cursor)
        if rows is None or not offset.isdigit():
            return error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return 200, self._page(version, rows, int(offset), len(rows))

    def _page(self, version: str, rows: list[dict[str, Any]], offset: int, total: int) -> Any:
        end = offset + self.page_size
        page: dict[str, Any] = {"totalSize": total, "done": end >= total}
        if end < total:
            cursor = "01gDg" + secrets.token_hex(6)
            self._cursors[cursor] = rows
            page["nextRecordsUrl"] = f"/services/data/{version}/query/{cursor}-{end}"
        page["records"] = rows[offset:end]
        return page

    def _search(self, version: str, text: str) -> Answer:
        try:
            search = soql.parse_sosl(text)
            plans = [(self._type(part.sobject), part) for part in search.returning]
            fields = [[self._field(t, name) for name in part.fields] for t, part in plans]
            orders = [self._order(t, part.order_by) for t, part in plans]
        except soql.MalformedQuery as problem:
            return error(400, "MALFORMED_SEARCH", str(problem))
        except _Refusal as refusal:
            return refusal.answer
        found: list[dict[str, Any]] = []
        for (type_name, part), names, order in zip(plans, fields, orders, strict=True):
            rows = [
                record
                for record in self.objects[type_name].values()
                if any(_term_matches(term, record, search.scope) for term in search.terms)
            ]
            rows = _ordered(rows, order, part.limit)
            found.extend(self._render(version, type_name, record, names) for record in rows)
        return 200, {"searchRecords": found[: search.limit or SEARCH_LIMIT]}

    def _create(self, type_name: str, body: Any) -> Answer:
        try:
            type_name = self._type(type_name)
            values = self._writable(type_name, body)
        except _Refusal as refusal:
            return refusal.answer
        missing = sorted(
            name
            for name in self.required_fields.get(type_name, ())
            if values.get(name) in (None, "")
        )
        if missing:
            return error(
                400,
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )
        record_id = self.add(type_name, **values)
        return 201, {"id": record_id, "success": True, "errors": []}

    def _read(self, version: str, type_name: str, record_id: str, fields: str | None) -> Answer:
        try:
            type_name = self._type(type_name)
            names = (fields or ",".join(self.fields[type_name])).split(",")
            wanted = ["Id", *(self._field(type_name, name.strip()) for name in names)]
        except _Refusal as refusal:
            return refusal.answer
        record = self.objects[type_name].get(id18(record_id) or "")
        if record is None:
            return error(404, "NOT_FOUND", "The requested resource does not exist")
        return 200, self._render(version, type_name, record, list(dict.fromkeys(wanted)))

    def _update(self, type_name: str, record_id: str, body: Any) -> Answer:
        try:
            type_name = self._type(type_name)
            record = self.objects[type_name].get(id18(record_id) or "")
            if record is None:
                return error(404, "NOT_FOUND", "The requested resource does not exist")
            values = self._writable(type_name, body)
        except _Refusal as refusal:
            return refusal.answer
        record.update(values)
        if type_name in COMPUTED_NAME:
            parts = (record.get("FirstName"), record.get("LastName"))
            record["Name"] = " ".join(part for part in parts if part)
        self.updates.append((type_name, record["Id"], dict(values)))
        return 204, None

    # -- helpers -----------------------------------------------------------------------------

    def _type(self, name: str) -> str:
        for type_name in self.objects:
            if type_name.lower() == name.lower():
                return type_name
        raise _Refusal(error(400, "INVALID_TYPE", f"sObject type '{name}' is not supported."))

    def _field(self, type_name: str, name: str) -> str:
        """The field's canonical name (SOQL is case-blind), ``Rel.Field`` for one a lookup
        reaches; refuses one the type does not have."""
        relation, dot, rest = name.partition(".")
        if dot:
            lookup = self._field(type_name, relation + "Id")
            if lookup not in LOOKUPS:
                raise _Refusal(_no_such_column(name, type_name))
            return f"{lookup[:-2]}.{self._field(LOOKUPS[lookup], rest)}"
        for known in self.fields[type_name]:
            if known.lower() == name.lower():
                return known
        raise _Refusal(_no_such_column(name, type_name))

    def _order(self, type_name: str, order_by: tuple[str, bool] | None) -> tuple[str, bool] | None:
        return None if order_by is None else (self._field(type_name, order_by[0]), order_by[1])

    def _value(self, type_name: str, record: Mapping[str, Any], field: str) -> Any:
        relation, dot, rest = field.partition(".")
        if not dot:
            return record.get(field)
        target = self.objects[LOOKUPS[relation + "Id"]].get(record.get(relation + "Id") or "")
        return None if target is None else target.get(rest)

    def _render(
        self, version: str, type_name: str, record: Mapping[str, Any], fields: list[str]
    ) -> dict[str, Any]:
        rendered = self._attributes(version, type_name, str(record["Id"]))
        for field in fields:
            relation, dot, rest = field.partition(".")
            if not dot:
                rendered[field] = record.get(field)
                continue
            target_type = LOOKUPS[relation + "Id"]
            target = self.objects[target_type].get(record.get(relation + "Id") or "")
            if target is None:
                rendered[relation] = None
                continue
            nested = rendered.get(relation) or self._attributes(version, target_type, target["Id"])
            nested[rest] = target.get(rest)
            rendered[relation] = nested
        return rendered

    @staticmethod
    def _attributes(version: str, type_name: str, record_id: str) -> dict[str, Any]:
        url = f"/services/data/{version}/sobjects/{type_name}/{record_id}"
        return {"attributes": {"type": type_name, "url": url}}

    def _writable(self, type_name: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _Refusal(error(400, "JSON_PARSER_ERROR", "The body must be a JSON object"))
        values: dict[str, Any] = {}
        for name, value in body.items():
            if "." in name:
                raise _Refusal(_no_such_column(name, type_name))
            field = self._field(type_name, name)
            if field in READ_ONLY or (field == "Name" and type_name in COMPUTED_NAME):
                raise _Refusal(
                    error(
                        400,
                        "INVALID_FIELD_FOR_INSERT_UPDATE",
                        f"Unable to create/update fields: {field}. Please check the security "
                        "settings of this field and verify that it is read/write for your "
                        "profile or permission set.",
                        [field],
                    )
                )
            if field in LOOKUPS and value is not None:
                target = id18(str(value))
                if target is None or target not in self.objects[LOOKUPS[field]]:
                    raise _Refusal(
                        error(
                            400,
                            "INVALID_CROSS_REFERENCE_KEY",
                            f"invalid cross reference id: {value}",
                            [field],
                        )
                    )
                value = target
            values[field] = value
        return values

    def _condition(
        self, type_name: str, condition: soql.Condition
    ) -> Callable[[Mapping[str, Any]], bool]:
        if isinstance(condition, soql.Junction):
            parts = [self._condition(type_name, part) for part in condition.parts]
            if condition.op == "AND":
                return lambda record: all(part(record) for part in parts)
            return lambda record: any(part(record) for part in parts)
        field = self._field(type_name, condition.field)
        is_id = field.rpartition(".")[2] == "Id" or field.rpartition(".")[2] in LOOKUPS
        values = {_comparable(value, is_id, field) for value in condition.values}

        def test(record: Mapping[str, Any]) -> bool:
            value = self._value(type_name, record, field)
            value = value if is_id else _comparable(value, False, field)
            hit = value in values
            return hit if condition.op in ("=", "IN") else not hit

        return test


class _Refusal(Exception):
    def __init__(self, answer: Answer) -> None:
        super().__init__(answer)
        self.answer = answer


def _no_such_column(name: str, type_name: str) -> Answer:
    return error(
        400,
        "INVALID_FIELD",
        f"No such column '{name}' on entity '{type_name}'. If you are attempting to use a custom "
        "field, be sure to append the '__c' after the custom field name.",
    )


def _comparable(value: Any, is_id: bool, field: str) -> Any:
    if is_id and value is not None:
        full = id18(str(value)) if isinstance(value, str) else None
        if full is None:
            raise _Refusal(
                error(400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {value}", [field])
            )
        return full
    return value.casefold() if isinstance(value, str) else value


def _everything(_record: Mapping[str, Any]) -> bool:
    return True


def _ordered(
    rows: list[dict[str, Any]], order_by: tuple[str, bool] | None, limit: int | None
) -> list[dict[str, Any]]:
    if order_by is not None:
        field = order_by[0]
        rows = sorted(rows, key=lambda row: (row.get(field) is not None, str(row.get(field))))
        if order_by[1]:
            rows.reverse()
    return rows if limit is None else rows[:limit]


def _term_matches(term: str, record: Mapping[str, Any], scope: str) -> bool:
    digits = "".join(character for character in term if character.isdigit())
    for field, value in record.items():
        if not isinstance(value, str) or field == "Id" or field in LOOKUPS:
            continue
        in_scope = {
            "ALL": True,
            "PHONE": field in PHONE_FIELDS,
            "EMAIL": field == "Email",
            "NAME": field in NAME_FIELDS,
        }[scope]
        if not in_scope:
            continue
        if field in PHONE_FIELDS and len(digits) >= 4 and len(digits) * 2 >= len(term):
            if "".join(c for c in value if c.isdigit()).endswith(digits):
                return True
        elif term.casefold() in value.casefold():
            return True
    return False
