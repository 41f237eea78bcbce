"""Contract checks for the Cin7 Core API v2, built from the published OpenAPI description.

Why this exists: our Cin7 client is tested against stubs and recorded payloads. This module checks that
whatever those tests send and receive is what Cin7 documents, so a stub cannot drift away from the real
API unnoticed. The reference document is
``<repo root>/../shared/reference/cin7/openapi/cin7-core-v2.openapi.yaml`` (an OpenAPI 3.0 conversion of
Cin7's Apiary blueprint). It is read in place, never copied into the project, and parsed once per process
(``load_cin7_spec`` is cached; parsing the 2 MB YAML with the C loader takes about 0.6 s).

Normalisation (in memory, the file is never changed)
-----------------------------------------------------
The conversion is not usable as it stands, so the loader rewrites it into a valid OpenAPI 3.0 document:

- Path keys carry query strings (``/sale?ID={ID}&CombineAdditionalCharges={...}``) and declare those
  parameters ``in: path``. Each key is split at ``?``; the parameters become ``in: query`` under the name
  used on the wire (the left side of ``Name={Var}``; this repairs ``Status{Status}``, ``ShipZoneID ={..}``,
  ``ID={FixedAssetTypeID}`` and ``returnAttachmentsContent={ReturnAttachmentsContent}``). Parameters that
  are real path segments would stay ``in: path`` (the document has none). Keys with trailing blanks are
  stripped.
- Keys that share a base path are merged into one path item; variants with the same base path *and*
  method (``GET /crm/task``, ``GET``/``DELETE /production/productionBOM``) become one operation whose query
  parameters are the union of the variants'. The conversion marks every query parameter required (path
  parameters must be), which carries no information, so a query parameter is required only when it is the
  one and only parameter of every variant, is not a boolean switch and has no default
  (``GET /purchase/payment?TaskID=``, ``DELETE /webhooks?ID=``; 51 operations): such an endpoint means
  nothing without it. All others are optional, also where variants disagree (``GET /sale?ID=`` included).
  If variants document different response schemas, the merged response accepts any of them (``anyOf``);
  if one variant documents no schema, the merged response documents none.
- Operation ids are regenerated as ``<method>_<path>`` (``get_sale_invoice``); the original keys and ids
  are kept in ``x-cin7-source-paths`` / ``x-cin7-source-operation-ids``.
- The headers ``api-auth-accountid`` and ``api-auth-applicationkey`` are declared optional; our client must
  always send both, so they are made required.
- The intro's "Error Model" ``{ErrorCode: int, Exception: string}`` becomes ``components.schemas.Cin7Error``
  and every operation gets ``4XX``/``5XX`` responses whose body is one such object or a non-empty list of
  them (the docs do not say which; FACTS.md marks it UNCONFIRMED). Every operation also gets the ``204``
  "success, no body" that the intro's status-code table documents for the whole API.
- The YAML is parsed without timestamp resolution, so dates stay strings, as they are in JSON.

Response schemas are kept as inferred, with these adjustments, each needed so that real payloads validate:

1. **Nullable by name** (949 declarations of 118 property names): the schemas were inferred from single
   examples, so a field is ``nullable`` only where its example happened to be ``null``. Where the
   document shows a property name as ``null`` in one place (``InvoiceDate``, ``CreditNoteNumber``,
   ``Memo``, ``BatchSN``, ``ExpiryDate``, ``AdditionalAttribute1`` ... ``TaxNumber`` ...), every typed
   declaration of that name that a *response* can reach also accepts ``null``. Types are not widened, and
   request schemas stay as documented (what we send is ours to keep tidy). Names never shown as null
   (``Total``, ``Customer``, ``SaleID`` ...) stay non-nullable.
2. **Arrays inferred from ``[]``** (180 declarations of 36 names): the converter typed every empty example array
   as ``items: {type: string}``. ``Invoices[].Payments``, ``Quote.Prepayments``, ``AdditionalCharges``,
   ``ManualJournals.Lines``, ``Attachments`` in sale/purchase responses hold objects in real payloads.
   Where the same property name is documented elsewhere with object items, and no example anywhere shows
   that name holding strings, the items become ``{type: object}`` (the element fields are not checked at
   those positions, because the document does not describe them there).
3. **Location ``Bins``** (3 schemas): typed as an array of strings, but the Location model table says "Array (ID, Name)
   with related Bins" and the ``GET /ref/location`` example holds objects; the items become an object with
   ``ID``/``Name`` (string) and ``IsDeprecated``/``IsStaging`` (boolean).

No ``integer`` needed widening: the converter typed every number (money, quantities, ``Page``, ``Total``) as
``number``. ``Cin7Contract.adjustments`` lists what was changed, with counts.

Known limits (left as documented, report rather than guess): no schema sets ``additionalProperties``, so
unknown or misspelt fields (``InvocieNumber``) pass; 686 properties only ever seen as ``null`` are
typeless and accept any value; 21 operations (among them ``GET /sale/creditnote``) document no response
schema, so their 2xx bodies are not checked; 21 POST/PUT operations (among them ``POST /sale``,
``POST /sale/attachment``, ``PUT /sale/invoice``) lost their request body in the conversion, so what we send
there is not checked either.

Checks
------
``validate_request``: the URL must be under ``/ExternalApi/v2/`` (any case, any host; a bare path is taken
as relative to it), name a documented path and method (paths compare case-insensitively, as Cin7's do),
carry only declared query parameters (names compared case-insensitively; values must parse as the declared
type), both auth headers, and a JSON body valid for the operation (with ``Content-Type: application/json``).
``validate_response``: the status must be documented; 2xx bodies are validated against the operation's
schema, 4xx/5xx bodies against the error model. Both raise ``ContractViolation`` naming the operation,
the field (as a JSON path) and the reason.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import parse_qsl, urlsplit

import requests
import yaml
from openapi_schema_validator import OAS30Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - only without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

JSONValue = Any
"""A decoded JSON value (dict, list, str, int, float, bool or None)."""

SPEC_URI: Final = "urn:cin7-core-v2"
AUTH_HEADERS: Final = ("api-auth-accountid", "api-auth-applicationkey")
HTTP_METHODS: Final = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
ERROR_SCHEMA_NAME: Final = "Cin7Error"
ERROR_BODY_SCHEMA_NAME: Final = "Cin7ErrorBody"

_API_PREFIX = re.compile(r"^/externalapi/v2(?=/|$)", re.IGNORECASE)
_QUERY_TEMPLATE_PAIR = re.compile(r"^\s*(?P<wire>[^\s={}]+)\s*=?\s*\{(?P<var>[^{}]+)\}\s*$")
_PATH_VARIABLE = re.compile(r"\{([^{}]+)\}")
_MAX_PROBLEMS_SHOWN: Final = 20
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
_LOCATION_BIN_ITEM: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "ID": {"type": "string"},
        "Name": {"type": "string"},
        "IsDeprecated": {"type": "boolean"},
        "IsStaging": {"type": "boolean"},
    },
}


class _JsonLikeLoader(_SafeLoader):
    """Safe YAML loader that leaves ISO timestamps as strings, as the same data in JSON would be."""


_JsonLikeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items()
}


class _SchemaError(Protocol):
    """The parts of a jsonschema ``ValidationError`` used to describe it (jsonschema ships no type stubs)."""

    message: str
    validator: Any
    validator_value: Any
    instance: Any
    context: Sequence[_SchemaError]

    @property
    def absolute_path(self) -> Sequence[str | int]: ...

    @property
    def relative_schema_path(self) -> Sequence[str | int]: ...


class ContractViolation(AssertionError):
    """A request or response that the Cin7 contract does not allow.

    An ``AssertionError`` so that pytest reports it as a failed expectation, not as a crash.
    ``problems`` holds one readable line per violated rule (``$.Invoices[0].Total: expected number ...``).
    """

    def __init__(self, subject: str, problems: Sequence[str], operation: Operation | None = None) -> None:
        self.subject = subject
        self.problems = tuple(problems)
        self.operation = operation
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.operation.label}: " if self.operation else ""
        shown = [f"  - {problem}" for problem in self.problems[:_MAX_PROBLEMS_SHOWN]]
        hidden = len(self.problems) - len(shown)
        if hidden > 0:
            shown.append(f"  ... and {hidden} more")
        return "\n".join([f"{where}{self.subject} violates the Cin7 contract:", *shown])


@dataclass(frozen=True)
class QueryParameter:
    """One query parameter an operation declares, under its wire name."""

    name: str
    required: bool
    schema: Mapping[str, Any]


@dataclass(frozen=True)
class Operation:
    """One operation of the normalised spec, with JSON pointers to its schemas."""

    method: str
    path: str
    operation_id: str
    query: Mapping[str, QueryParameter]
    request_body_pointer: str | None
    response_pointers: Mapping[str, str | None]
    source_paths: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path} [{self.operation_id}]"

    def response_key(self, status: int) -> str | None:
        """The documented response that covers ``status``: exact code first, then ``4XX``-style, then default."""
        for key in (str(status), f"{status // 100}XX", "default"):
            if key in self.response_pointers:
                return key
        return None

    def response_schema_pointer(self, status: int) -> str | None:
        """Where the body schema for ``status`` lives, or None if the document gives no schema for it."""
        key = self.response_key(status)
        return None if key is None else self.response_pointers[key]


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------


def repo_root() -> Path:
    """The folder holding pyproject.toml; the reference material sits next to the checkout."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "pyproject.toml").is_file():
            return folder
    raise FileNotFoundError(f"no pyproject.toml above {__file__}")


def spec_path() -> Path:
    """Location of the Cin7 OpenAPI document (shared, read-only, outside the repository)."""
    return repo_root().parent / "shared" / "reference" / "cin7" / "openapi" / "cin7-core-v2.openapi.yaml"


def read_spec_document(path: Path) -> tuple[dict[str, Any], float]:
    """Parse the YAML document; returns it with the seconds the parse took (the dominant load cost)."""
    started = time.perf_counter()
    with path.open("rb") as handle:
        document = yaml.load(handle, Loader=_JsonLikeLoader)  # noqa: S506 - a SafeLoader subclass
    return document, time.perf_counter() - started


@functools.cache
def load_cin7_spec() -> Cin7Contract:
    """The Cin7 contract, loaded and normalised once per process."""
    document, load_seconds = read_spec_document(spec_path())
    started = time.perf_counter()
    spec, adjustments = normalise_spec(document)
    contract = Cin7Contract(spec, adjustments)
    contract.load_seconds = load_seconds
    contract.normalise_seconds = time.perf_counter() - started
    return contract


# --------------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Variant:
    """One original path key's operation for one method, with its query template."""

    key: str
    wire_names: Mapping[str, str]  # template variable -> parameter name on the wire
    operation: dict[str, Any]


def normalise_spec(document: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Rewrite the converted document into valid OpenAPI 3.0 (see the module docstring).

    Mutates and returns ``document``; the second value lists the schema adjustments made.
    """
    groups = _group_variants(document["paths"])
    paths: dict[str, dict[str, Any]] = {}
    for (base, method), variants in sorted(groups.items()):
        paths.setdefault(base, {})[method] = _merge_variants(base, method, variants)
    document["paths"] = paths
    _add_error_model(document)
    adjustments = (
        _widen_empty_array_items(document),
        _nullable_by_name(document),
        _document_location_bins(document),
    )
    return document, adjustments


def _split_path_key(key: str) -> tuple[str, dict[str, str]]:
    """``/sale?ID={ID}&X={X}`` -> (``/sale``, {``ID``: ``ID``, ``X``: ``X``})."""
    base, _, query = key.strip().partition("?")
    wire_names: dict[str, str] = {}
    for piece in filter(None, query.split("&")):
        match = _QUERY_TEMPLATE_PAIR.match(piece)
        if match is None:
            raise ValueError(f"cannot read query template {piece!r} in path key {key!r}")
        wire_names[match["var"].strip()] = match["wire"]
    return base.strip(), wire_names


def _group_variants(paths: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, str], list[_Variant]]:
    groups: dict[tuple[str, str], list[_Variant]] = {}
    for key, item in paths.items():
        base, wire_names = _split_path_key(key)
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                raise ValueError(f"unexpected path-item field {method!r} under {key!r}")
            groups.setdefault((base, method), []).append(_Variant(key, wire_names, operation))
    return groups


def _convert_parameters(variant: _Variant, base: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split a variant's parameters into (header and real path parameters, query parameters)."""
    segments = set(_PATH_VARIABLE.findall(base))
    kept: list[dict[str, Any]] = []
    query: list[dict[str, Any]] = []
    for parameter in variant.operation.get("parameters", []):
        name = parameter["name"]
        if parameter["in"] == "header" and name.lower() in AUTH_HEADERS:
            kept.append({**parameter, "required": True})
        elif parameter["in"] == "path" and name in variant.wire_names and name not in segments:
            query.append(_query_parameter(parameter, variant.wire_names[name]))
        elif parameter["in"] == "path" and name not in segments:
            raise ValueError(f"{variant.key}: path parameter {name!r} appears neither in the path nor the query")
        else:
            kept.append(parameter)
    return kept, query


def _query_parameter(parameter: Mapping[str, Any], wire_name: str) -> dict[str, Any]:
    converted: dict[str, Any] = {"name": wire_name, "in": "query", "required": False}
    for field_name in ("description", "schema", "example"):
        if field_name in parameter:
            converted[field_name] = parameter[field_name]
    converted.setdefault("schema", {"type": "string"})
    return converted


def _merge_variants(base: str, method: str, variants: Sequence[_Variant]) -> dict[str, Any]:
    kept: dict[tuple[str, str], dict[str, Any]] = {}
    query: dict[str, dict[str, Any]] = {}
    names_per_variant: list[set[str]] = []
    for variant in variants:
        variant_kept, variant_query = _convert_parameters(variant, base)
        for parameter in variant_kept:
            kept.setdefault((parameter["in"], parameter["name"].lower()), parameter)
        for parameter in variant_query:
            query.setdefault(parameter["name"].lower(), parameter)
        names_per_variant.append({parameter["name"].lower() for parameter in variant_query})
    for lowered, parameter in query.items():
        parameter["required"] = _is_sole_identifier(lowered, parameter, names_per_variant)
    merged: dict[str, Any] = {
        "operationId": _operation_id(method, base),
        "summary": f"{method.upper()} {base}",
        "description": "\n\n".join(dict.fromkeys(v.operation.get("description", "") for v in variants)).strip(),
        "parameters": [*kept.values(), *query.values()],
        "responses": _merge_responses([v.operation.get("responses", {}) for v in variants]),
        "x-cin7-source-paths": [v.key for v in variants],
        "x-cin7-source-operation-ids": [v.operation.get("operationId", "") for v in variants],
    }
    tags = list(dict.fromkeys(tag for v in variants for tag in v.operation.get("tags", [])))
    if tags:
        merged["tags"] = tags
    body = next((v.operation["requestBody"] for v in variants if "requestBody" in v.operation), None)
    if body is not None:
        merged["requestBody"] = body
    return merged


def _is_sole_identifier(lowered: str, parameter: Mapping[str, Any], names_per_variant: Sequence[set[str]]) -> bool:
    """Required only if every variant has this one parameter and nothing else, and it is not a switch.

    ``GET /purchase/payment?TaskID=`` means nothing without TaskID; ``POST /production/order?RecalculateDates=``
    is a boolean with an obvious default, and anything with a documented default can be left out.
    """
    schema = parameter.get("schema", {})
    is_switch = schema.get("type") == "boolean" or "default" in schema
    return not is_switch and all(names == {lowered} for names in names_per_variant)


def _operation_id(method: str, base: str) -> str:
    return f"{method}_{re.sub(r'[^0-9A-Za-z]+', '_', base).strip('_') or 'root'}"


def _merge_responses(variants: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for responses in variants:
        for code, response in responses.items():
            merged[str(code)] = _union_response(merged[str(code)], response) if str(code) in merged else response
    return merged


def _json_schema_of(response: Mapping[str, Any]) -> Any:
    return response.get("content", {}).get("application/json", {}).get("schema")


def _union_response(first: dict[str, Any], second: Mapping[str, Any]) -> dict[str, Any]:
    """Lenient union: any documented schema is accepted; no schema on either side means none."""
    left, right = _json_schema_of(first), _json_schema_of(second)
    if left == right:
        return first
    if left is None or right is None:
        return {"description": first.get("description", "OK")}
    alternatives = left["anyOf"] if "x-cin7-merged" in left else [left]
    schema = {"x-cin7-merged": True, "anyOf": [*alternatives, right]}
    return {"description": first.get("description", "OK"), "content": {"application/json": {"schema": schema}}}


def _add_error_model(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_SCHEMA_NAME] = {
        "type": "object",
        "required": ["ErrorCode", "Exception"],
        "properties": {"ErrorCode": {"type": "integer"}, "Exception": {"type": "string"}},
    }
    reference = {"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"}
    schemas[ERROR_BODY_SCHEMA_NAME] = {"anyOf": [reference, {"type": "array", "minItems": 1, "items": reference}]}
    error_response = {
        "description": "Cin7 Error Model (single object or list)",
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_BODY_SCHEMA_NAME}"}}},
    }
    for item in document["paths"].values():
        for operation in item.values():
            responses = operation["responses"]
            responses.setdefault("204", {"description": "Success without a body (API status-code table)"})
            responses.setdefault("4XX", error_response)
            responses.setdefault("5XX", error_response)


# --- schema adjustments --------------------------------------------------------------------------


def _iter_schemas(document: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every schema object in the document (components, bodies, parameters), without following $ref."""
    components = document.get("components", {})
    roots: list[Any] = list(components.get("schemas", {}).values())
    roots += [_json_schema_of(body) for body in components.get("requestBodies", {}).values()]
    for item in document["paths"].values():
        for operation in item.values():
            roots += [parameter.get("schema") for parameter in operation.get("parameters", [])]
            roots.append(_json_schema_of(operation.get("requestBody", {})))
            roots += [_json_schema_of(response) for response in operation["responses"].values()]
    for root in roots:
        yield from _walk_schema(root)


def _walk_schema(schema: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(schema, dict) or "$ref" in schema:
        return
    yield schema
    for child in _subschemas(schema):
        yield from _walk_schema(child)


def _subschemas(schema: Mapping[str, Any]) -> Iterator[Any]:
    yield from schema.get("properties", {}).values()
    for keyword in ("items", "additionalProperties", "not"):
        yield schema.get(keyword)
    for keyword in ("allOf", "anyOf", "oneOf"):
        yield from schema.get(keyword, [])


def _response_schemas(document: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every schema object a response body can reach, following $ref, each once."""
    pending: list[Any] = [
        _json_schema_of(response)
        for item in document["paths"].values()
        for operation in item.values()
        for response in operation["responses"].values()
    ]
    seen: set[int] = set()
    while pending:
        schema = pending.pop()
        if not isinstance(schema, dict) or id(schema) in seen:
            continue
        seen.add(id(schema))
        if "$ref" in schema:
            pending.append(_resolve_local(document, schema["$ref"]))
            continue
        yield schema
        pending.extend(_subschemas(schema))


def _properties(document: Mapping[str, Any], *, responses_only: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
    for schema in _response_schemas(document) if responses_only else _iter_schemas(document):
        for name, child in schema.get("properties", {}).items():
            if isinstance(child, dict):
                yield name, child


def _nullable_by_name(document: Mapping[str, Any]) -> str:
    """Adjustment 1: a name the document shows as null somewhere may be null in any response.

    Request schemas stay as documented: what we send is ours to keep tidy.
    """
    shown_null = {name for name, child in _properties(document) if child.get("nullable") is True}
    changed: list[str] = []
    for name, child in _properties(document, responses_only=True):
        if name in shown_null and "type" in child and not child.get("nullable"):
            child["nullable"] = True
            changed.append(name)
    return (
        f"nullable-by-name: {len(changed)} typed response declarations of {len(set(changed))} property names "
        f"(e.g. {', '.join(sorted(set(changed))[:6])}) also accept null, as the document's own examples "
        "show those names as null elsewhere"
    )


def _widen_empty_array_items(document: Mapping[str, Any]) -> str:
    """Adjustment 2: ``items: {type: string}`` inferred from ``[]`` becomes objects where the name holds objects."""
    object_arrays = {name for name, child in _properties(document) if _holds_objects(document, child)}
    string_lists = _names_with_string_lists_in_examples(document)
    changed: list[str] = []
    for name, child in _properties(document):
        is_string_array = child.get("type") == "array" and child.get("items") == {"type": "string"}
        if is_string_array and name in object_arrays and name not in string_lists:
            child["items"] = {"type": "object"}
            changed.append(name)
    return (
        f"arrays inferred from []: {len(changed)} declarations of {len(set(changed))} array names "
        f"(e.g. {', '.join(sorted(set(changed))[:6])}) take object items, as those names hold objects elsewhere"
    )


def _holds_objects(document: Mapping[str, Any], schema: Mapping[str, Any]) -> bool:
    if schema.get("type") != "array":
        return False
    items = schema.get("items", {})
    if "$ref" in items:
        items = _resolve_local(document, items["$ref"])
    return items.get("type") == "object" or "properties" in items


def _resolve_local(document: Mapping[str, Any], reference: str) -> Mapping[str, Any]:
    target: Any = document
    for part in reference.removeprefix("#/").split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target


def _names_with_string_lists_in_examples(document: Any) -> set[str]:
    """Property names some example shows holding a non-empty list of strings (real string arrays)."""
    found: set[str] = set()

    def scan_example(value: Any) -> None:
        if isinstance(value, dict):
            for name, child in value.items():
                if isinstance(child, list) and child and all(isinstance(entry, str) for entry in child):
                    found.add(name)
                scan_example(child)
        elif isinstance(value, list):
            for child in value:
                scan_example(child)

    def scan_document(node: Any) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                if key == "example":
                    scan_example(child)
                elif key == "examples" and isinstance(child, dict):
                    for example in child.values():
                        scan_example(example.get("value") if isinstance(example, dict) else None)
                else:
                    scan_document(child)
        elif isinstance(node, list):
            for child in node:
                scan_document(child)

    scan_document(document)
    return found


def _document_location_bins(document: Mapping[str, Any]) -> str:
    """Adjustment 3: Location ``Bins`` are objects (Location model table; ``GET /ref/location`` example)."""
    changed = 0
    for schema in _iter_schemas(document):
        properties = schema.get("properties", {})
        bins = properties.get("Bins")
        is_location = {"IsStaging", "IsShopfloor"} <= properties.keys()
        if is_location and isinstance(bins, dict) and bins.get("items") == {"type": "string"}:
            bins["items"] = json.loads(json.dumps(_LOCATION_BIN_ITEM))
            changed += 1
    return f"location bins: {changed} Location schemas take Bins as objects (ID, Name, IsDeprecated, IsStaging)"


# --------------------------------------------------------------------------------------------------
# The contract
# --------------------------------------------------------------------------------------------------


class Cin7Contract:
    """The normalised Cin7 spec plus the checks built on it. Get it from ``load_cin7_spec()``."""

    def __init__(self, spec: dict[str, Any], adjustments: Sequence[str] = ()) -> None:
        self.spec = spec
        self.adjustments = tuple(adjustments)
        self.load_seconds = 0.0
        self.normalise_seconds = 0.0
        self._registry: Registry[Any] = Registry().with_resource(SPEC_URI, DRAFT4.create_resource(spec))
        self._validators: dict[str, Any] = {}
        self._by_path = _index_operations(spec)
        self._templated = [(_path_pattern(path), item) for path, item in self._by_path.items() if "{" in path]

    @property
    def operations(self) -> tuple[Operation, ...]:
        return tuple(operation for item in self._by_path.values() for operation in item.values())

    # --- lookup ---------------------------------------------------------------------------------

    def find_operation(self, method: str, url: str) -> Operation:
        """The operation a call goes to, from its method and URL (query string ignored)."""
        path, _ = _split_url(url)
        item = self._lookup_path(path)
        if item is None:
            known = {
                operation.path.lower(): operation.path for item in self._by_path.values() for operation in item.values()
            }
            close = difflib.get_close_matches(path.lower(), known, n=3)
            hint = f" (did you mean {', '.join(known[c] for c in close)}?)" if close else ""
            raise ContractViolation(f"{method.upper()} {url}", [f"path {path!r} is not documented{hint}"])
        operation = item.get(method.lower())
        if operation is None:
            documented = ", ".join(sorted(m.upper() for m in item))
            raise ContractViolation(
                f"{method.upper()} {url}", [f"method {method.upper()} is not documented for {path} ({documented})"]
            )
        return operation

    def _lookup_path(self, path: str) -> Mapping[str, Operation] | None:
        """Literal paths first (case-insensitive, as Cin7 routes are), then templated ones."""
        item = self._by_path.get(path.lower())
        if item is None:
            item = next((item for pattern, item in self._templated if pattern.fullmatch(path)), None)
        return item

    # --- requests -------------------------------------------------------------------------------

    def validate_request(self, method: str, url: str, headers: Mapping[str, str], body: JSONValue = None) -> Operation:
        """Raise ContractViolation unless the request is one Cin7 documents; returns the matched operation."""
        operation = self.find_operation(method, url)
        _, query = _split_url(url)
        lowered = {name.lower(): value for name, value in headers.items()}
        problems = [
            *_check_query(operation, query),
            *_check_auth_headers(lowered),
            *self._check_request_body(operation, lowered, body),
        ]
        if problems:
            raise ContractViolation("request", problems, operation)
        return operation

    def _check_request_body(self, operation: Operation, headers: Mapping[str, str], body: JSONValue) -> list[str]:
        if body is None:
            return []
        if operation.request_body_pointer is None:
            # The conversion dropped the body of some POST/PUT operations (POST /sale, POST /sale/attachment):
            # nothing to check against there. Reading methods never take one.
            return (
                [] if operation.method in _BODY_METHODS else ["the operation takes no request body, but one was sent"]
            )
        problems = _check_json_content_type(headers, "request")
        problems += self._schema_errors(operation.request_body_pointer, body, "body")
        return problems

    # --- responses ------------------------------------------------------------------------------

    def validate_response(
        self, method: str, url: str, status: int, headers: Mapping[str, str], body: JSONValue = None
    ) -> Operation:
        """Raise ContractViolation unless status and body are what Cin7 documents for the call."""
        operation = self.find_operation(method, url)
        key = operation.response_key(status)
        if key is None:
            documented = ", ".join(operation.response_pointers)
            raise ContractViolation(
                f"response {status}", [f"status {status} is not documented ({documented})"], operation
            )
        lowered = {name.lower(): value for name, value in headers.items()}
        problems = self._check_response_body(operation.response_pointers[key], status, lowered, body)
        if problems:
            raise ContractViolation(f"response {status}", problems, operation)
        return operation

    def _check_response_body(
        self, pointer: str | None, status: int, headers: Mapping[str, str], body: JSONValue
    ) -> list[str]:
        if pointer is None:
            # The document gives no schema (204, or a 2xx it never described): only "no body" is checkable.
            return ["a 204 response must not have a body"] if status == 204 and body is not None else []
        if body is None:
            return ["the body is empty, but the contract documents a JSON body"]
        return _check_json_content_type(headers, "response") + self._schema_errors(pointer, body, "body")

    # --- schema validation ----------------------------------------------------------------------

    def _schema_errors(self, pointer: str, instance: JSONValue, what: str) -> list[str]:
        validator = self._validators.get(pointer)
        if validator is None:
            validator = OAS30Validator({"$ref": f"{SPEC_URI}#{pointer}"}, registry=self._registry)
            self._validators[pointer] = validator
        errors = sorted(validator.iter_errors(instance), key=lambda error: _json_path(error.absolute_path))
        # The OAS 3.0 validator reports a null in a non-nullable field twice; say it once.
        return list(dict.fromkeys(f"{what} {_describe(error)}" for error in errors))


def _path_pattern(path: str) -> re.Pattern[str]:
    """``/thing/{Code}/lines`` -> a case-insensitive pattern with one segment per path parameter."""
    parts = re.split(r"(\{[^{}]+\})", path)
    return re.compile("".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts), re.I)


def _index_operations(spec: Mapping[str, Any]) -> dict[str, dict[str, Operation]]:
    index: dict[str, dict[str, Operation]] = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            index.setdefault(path.lower(), {})[method] = _operation(spec, path, method, operation)
    return index


def _operation(spec: Mapping[str, Any], path: str, method: str, operation: Mapping[str, Any]) -> Operation:
    base = ("paths", path, method)
    query = {
        parameter["name"].lower(): QueryParameter(parameter["name"], parameter["required"], parameter["schema"])
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query"
    }
    responses = {
        code: (
            _pointer(*base, "responses", code, "content", "application/json", "schema") if _json_schema_of(r) else None
        )
        for code, r in operation["responses"].items()
    }
    return Operation(
        method=method.upper(),
        path=path,
        operation_id=operation["operationId"],
        query=query,
        request_body_pointer=_request_body_pointer(spec, base, operation.get("requestBody")),
        response_pointers=responses,
        source_paths=tuple(operation.get("x-cin7-source-paths", ())),
    )


def _request_body_pointer(spec: Mapping[str, Any], base: tuple[str, ...], body: Any) -> str | None:
    if body is None:
        return None
    if "$ref" in body:
        name = body["$ref"].rsplit("/", 1)[-1]
        body, base = spec["components"]["requestBodies"][name], ("components", "requestBodies", name)
    else:
        base = (*base, "requestBody")
    return _pointer(*base, "content", "application/json", "schema") if _json_schema_of(body) else None


def _pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def _split_url(url: str) -> tuple[str, list[tuple[str, str]]]:
    """(path relative to /ExternalApi/v2, query pairs); absolute URLs must carry the API prefix."""
    parts = urlsplit(url)
    relative = _API_PREFIX.sub("", parts.path, count=1)
    if relative == parts.path and parts.netloc:
        raise ContractViolation(url, ["the URL is not under the Cin7 API base path /ExternalApi/v2/"])
    return "/" + relative.strip("/"), parse_qsl(parts.query, keep_blank_values=True)


# --- individual checks ---------------------------------------------------------------------------


def _check_query(operation: Operation, pairs: Sequence[tuple[str, str]]) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    declared = ", ".join(parameter.name for parameter in operation.query.values()) or "none"
    for name, raw in pairs:
        parameter = operation.query.get(name.lower())
        if parameter is None:
            problems.append(f"query parameter {name!r} is not declared (declared: {declared})")
        elif name.lower() in seen:
            problems.append(f"query parameter {name!r} is given more than once")
        else:
            seen.add(name.lower())
            problems += _check_query_value(parameter, raw)
    for lowered, parameter in operation.query.items():
        if parameter.required and lowered not in seen:
            problems.append(f"required query parameter {parameter.name!r} is missing")
    return problems


def _check_query_value(parameter: QueryParameter, raw: str) -> list[str]:
    expected = parameter.schema.get("type", "string")
    value: JSONValue = raw
    if expected == "boolean":
        if raw.lower() not in ("true", "false"):
            return [f"query parameter {parameter.name}={raw!r}: expected true or false"]
        value = raw.lower() == "true"
    elif expected in ("number", "integer"):
        try:
            value = int(raw) if expected == "integer" else float(raw)
        except ValueError:
            return [f"query parameter {parameter.name}={raw!r}: expected a {expected}"]
    errors = OAS30Validator(dict(parameter.schema)).iter_errors(value)
    return [f"query parameter {parameter.name}={raw!r}: {error.message}" for error in errors]


def _check_auth_headers(headers: Mapping[str, str]) -> list[str]:
    return [f"header {name!r} is missing or empty" for name in AUTH_HEADERS if not str(headers.get(name, "")).strip()]


def _check_json_content_type(headers: Mapping[str, str], what: str) -> list[str]:
    content_type = str(headers.get("content-type", ""))
    if "json" in content_type.split(";")[0].lower():
        return []
    return [f"{what} Content-Type is {content_type or 'missing'!r}; the API speaks application/json only"]


def _json_path(path: Sequence[str | int] | Any) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)


def _describe(error: _SchemaError) -> str:
    """``$.field: why``, with big instances shortened so that the message stays readable."""
    return f"{_json_path(error.absolute_path)}: {_reason(error)}"


def _reason(error: _SchemaError) -> str:
    if error.validator in ("anyOf", "oneOf") and error.context:
        return "matches none of the documented shapes: " + "; ".join(_branch_reasons(error.context))
    if error.validator == "type":
        return f"expected {error.validator_value}, got {_json_type(error.instance)} {_short(error.instance)}".rstrip()
    return error.message if len(error.message) <= 200 else error.message[:197] + "..."


def _branch_reasons(context: Sequence[_SchemaError]) -> list[str]:
    """One reason per alternative of an anyOf/oneOf, so the reader sees why each shape was rejected."""
    first_per_branch: dict[Any, _SchemaError] = {}
    for error in context:
        first_per_branch.setdefault(error.relative_schema_path[0], error)
    return [f"({index + 1}) {_describe(error)}" for index, error in enumerate(first_per_branch.values())]


def _json_type(value: JSONValue) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _short(value: JSONValue) -> str:
    if value is None:
        return ""
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------------------------------
# requests adapters
# --------------------------------------------------------------------------------------------------


def _decode_json(payload: Any, what: str) -> JSONValue:
    """Decode a request/response body; empty means no body. Non-JSON is a contract violation."""
    if payload is None or payload in (b"", ""):
        return None
    if not isinstance(payload, str | bytes):
        raise ContractViolation(what, [f"cannot check a {type(payload).__name__} body; send JSON"])
    try:
        return json.loads(payload)
    except ValueError as error:
        raise ContractViolation(what, [f"is not JSON ({error}): {_short(str(payload[:80]))}"]) from error


def check_requests_exchange(
    response: requests.Response, contract: Cin7Contract | None = None
) -> list[ContractViolation]:
    """All violations of one exchange (request and response), without raising."""
    contract = contract or load_cin7_spec()
    request = response.request
    method, url = request.method or "GET", request.url or ""
    violations: list[ContractViolation] = []
    try:
        contract.validate_request(method, url, request.headers, _decode_json(request.body, "request body"))
    except ContractViolation as violation:
        violations.append(violation)
    try:
        body = _decode_json(response.content, f"response {response.status_code} body")
        contract.validate_response(method, url, response.status_code, response.headers, body)
    except ContractViolation as violation:
        violations.append(violation)
    return violations


def validate_requests_exchange(response: requests.Response, contract: Cin7Contract | None = None) -> None:
    """Raise ContractViolation if ``response.request`` or ``response`` breaks the Cin7 contract."""
    violations = check_requests_exchange(response, contract)
    if len(violations) == 1:
        raise violations[0]
    if violations:
        request = response.request
        raise ContractViolation(f"exchange {request.method} {request.url}", [str(v) for v in violations])


def attach_contract_checks(session: requests.Session, contract: Cin7Contract | None = None) -> list[ContractViolation]:
    """Check every exchange ``session`` makes; returns the (live) list the violations are collected in.

    The hook never raises, so the code under test sees the real response and keeps its own error
    handling; the test asserts ``violations == []`` at the end.
    """
    violations: list[ContractViolation] = []

    def contract_hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        violations.extend(check_requests_exchange(response, contract))

    session.hooks["response"].append(contract_hook)
    return violations
