"""The Cin7 contract harness: spec normalisation, sample payloads, broken variants, URL matching, adapters."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from typing import Any

import pytest
import requests
import yaml
from openapi_spec_validator import OpenAPIV30SpecValidator
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from datev_cin7_pipeline_tests.contracts import cin7_openapi
from datev_cin7_pipeline_tests.contracts.cin7_openapi import (
    Cin7Contract,
    ContractViolation,
    attach_contract_checks,
    load_cin7_spec,
    normalise_spec,
    spec_path,
    validate_requests_exchange,
)
from datev_cin7_pipeline_tests.contracts.samples import (
    AUTH,
    BASE_URL,
    JSON_HEADERS,
    SAMPLES_DIR,
    Sample,
    documented_samples,
    load_sample,
)

if not (spec_path().is_file() and SAMPLES_DIR.is_dir()):
    # Same rule as the PostgreSQL tests: skip on a laptop without the reference folder, never in CI.
    _missing = f"Cin7 reference material not found next to the checkout ({spec_path()}, {SAMPLES_DIR})"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        raise RuntimeError(_missing)
    pytest.skip(_missing, allow_module_level=True)

# --------------------------------------------------------------------------------------------------
# Loading and normalisation
# --------------------------------------------------------------------------------------------------


def test_spec_is_loaded_once_with_the_c_loader(contract: Cin7Contract) -> None:
    assert load_cin7_spec() is contract
    assert load_cin7_spec.cache_info().misses == 1
    if yaml.__with_libyaml__:
        assert issubclass(cin7_openapi._JsonLikeLoader, yaml.CSafeLoader)
    assert 0 < contract.load_seconds < 10
    assert contract.normalise_seconds < 5


def test_dates_stay_strings_as_in_json(contract: Cin7Contract) -> None:
    example = contract.spec["components"]["schemas"]["saleInvoice_post_200_response"]["example"]
    assert example["Invoices"][0]["InvoiceDate"] == "2017-11-22T00:00:00"


def test_normalised_spec_is_valid_openapi_30(contract: Cin7Contract) -> None:
    errors = [error.message for error in OpenAPIV30SpecValidator(contract.spec).iter_errors()]
    assert errors == []


def test_no_query_strings_or_fake_path_parameters_remain(contract: Cin7Contract) -> None:
    paths = contract.spec["paths"]
    assert not [key for key in paths if "?" in key or key != key.strip()]
    for key, item in paths.items():
        for operation in item.values():
            in_path = [p["name"] for p in operation["parameters"] if p["in"] == "path"]
            assert in_path == [], f"{key}: {in_path}"
            auth = {p["name"]: p["required"] for p in operation["parameters"] if p["in"] == "header"}
            assert auth == {"api-auth-accountid": True, "api-auth-applicationkey": True}
    assert len({op.operation_id for op in contract.operations}) == len(contract.operations) == 288
    assert len(paths) == 115


def test_keys_sharing_a_base_path_become_one_path_item(contract: Cin7Contract) -> None:
    item = contract.spec["paths"]["/sale/invoice"]
    assert sorted(item) == ["delete", "get", "post", "put"]
    get = contract.find_operation("GET", "/sale/invoice")
    delete = contract.find_operation("DELETE", "/sale/invoice")
    assert [p.name for p in get.query.values()] == ["SaleID", "CombineAdditionalCharges", "IncludeProductInfo"]
    assert [p.name for p in delete.query.values()] == ["TaskID", "Void"]
    assert not any(p.required for p in [*get.query.values(), *delete.query.values()])
    assert delete.source_paths == ("/sale/invoice?TaskID={TaskID}&Void={Void}",)


def test_variants_of_one_method_merge_into_a_lenient_union(contract: Cin7Contract) -> None:
    bom = contract.find_operation("GET", "/production/productionBOM")
    assert set(bom.query) == {"productfamilyid", "productid", "returnattachmentscontent"}
    assert not any(p.required for p in bom.query.values())
    task = contract.find_operation("GET", "/crm/task")
    assert {"page", "limit", "id", "name", "startdatefrom", "assignedto", "category"} <= set(task.query)
    assert len(task.source_paths) == 2


def test_query_names_are_the_wire_names_from_the_template(contract: Cin7Contract) -> None:
    # Templates with typos: "Status{Status}", "ID={FixedAssetTypeID}", "ShipZoneID ={ShipZoneID}".
    assert contract.find_operation("GET", "/purchaseList").query["status"].name == "Status"
    assert contract.find_operation("GET", "/ref/fixedassettype").query["id"].name == "ID"
    assert "fixedassettypeid" not in contract.find_operation("GET", "/ref/fixedassettype").query
    ship_zone = contract.find_operation("DELETE", "/reference/shipZones").query["shipzoneid"]
    assert (ship_zone.name, ship_zone.required) == ("ShipZoneID", True)


@pytest.mark.parametrize(
    ("method", "path", "required"),
    [
        ("GET", "/purchase/payment", ["TaskID"]),
        ("GET", "/sale/payment", ["SaleID"]),
        ("DELETE", "/webhooks", ["ID"]),
        ("GET", "/sale", []),  # ID plus optional switches: the variants give no basis to require one
        ("GET", "/saleList", []),
        ("POST", "/production/order", []),  # sole parameter, but a boolean switch
    ],
)
def test_only_sole_identifiers_are_required(
    contract: Cin7Contract, method: str, path: str, required: list[str]
) -> None:
    operation = contract.find_operation(method, path)
    assert [p.name for p in operation.query.values() if p.required] == required


def _mini_document() -> dict[str, Any]:
    """A tiny document in the converter's style, to pin the normalisation rules down exactly."""

    def op(params: list[tuple[str, str, dict[str, Any]]], schema: dict[str, Any] | None) -> dict[str, Any]:
        parameters = [{"name": n, "in": where, "required": True, "schema": s} for n, where, s in params]
        response: dict[str, Any] = {"description": "OK"}
        if schema is not None:
            response["content"] = {"application/json": {"schema": schema}}
        return {"operationId": "x", "parameters": parameters, "responses": {"200": response}}

    string, boolean = {"type": "string"}, {"type": "boolean"}
    return {
        "openapi": "3.0.0",
        "info": {"title": "mini", "version": "1"},
        "paths": {
            "/thing/{Code}/lines?Page={Page}": {"get": op([("Code", "path", string), ("Page", "path", string)], None)},
            "/thing?ID={ID}&Flag={Flag}": {
                "get": op([("ID", "path", string), ("Flag", "path", boolean)], {"$ref": "#/components/schemas/A"})
            },
            "/thing?Code={Code}": {"get": op([("Code", "path", string)], {"$ref": "#/components/schemas/B"})},
            "/thing": {
                "post": {
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Req"}}}},
                    "responses": {"200": {"description": "OK"}},
                }
            },
        },
        "components": {
            "schemas": {
                "A": {
                    "type": "object",
                    "properties": {"Memo": {"type": "string"}, "Lines": {"type": "array", "items": {"type": "string"}}},
                },
                "B": {
                    "type": "object",
                    "properties": {
                        "Memo": {"nullable": True},
                        "Lines": {"type": "array", "items": {"$ref": "#/components/schemas/Line"}},
                    },
                },
                "Line": {"type": "object", "properties": {"Total": {"type": "number"}}},
                "Req": {"type": "object", "properties": {"Memo": {"type": "string"}}},
            }
        },
    }


def test_normalise_spec_rules_on_a_small_document() -> None:
    spec, adjustments = normalise_spec(_mini_document())
    OpenAPIV30SpecValidator(spec).validate()
    assert sorted(spec["paths"]) == ["/thing", "/thing/{Code}/lines"]
    lines = spec["paths"]["/thing/{Code}/lines"]["get"]["parameters"]
    assert [(p["name"], p["in"], p["required"]) for p in lines] == [("Code", "path", True), ("Page", "query", True)]
    get = spec["paths"]["/thing"]["get"]
    assert [(p["name"], p["required"]) for p in get["parameters"]] == [("ID", False), ("Flag", False), ("Code", False)]
    merged = get["responses"]["200"]["content"]["application/json"]["schema"]["anyOf"]
    assert merged == [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}]
    schemas = spec["components"]["schemas"]
    assert schemas["A"]["properties"]["Memo"] == {"type": "string", "nullable": True}  # null shown in B
    assert schemas["Req"]["properties"]["Memo"] == {"type": "string"}  # request schemas stay as documented
    assert schemas["A"]["properties"]["Lines"]["items"] == {"type": "object"}  # objects in B
    assert [a.split(":")[0] for a in adjustments] == ["arrays inferred from []", "nullable-by-name", "location bins"]


def test_real_path_parameters_match_as_segments() -> None:
    contract = Cin7Contract(normalise_spec(_mini_document())[0])
    operation = contract.validate_request("GET", "https://h/ExternalApi/v2/thing/AB-1/lines?page=2", AUTH)
    assert (operation.path, operation.operation_id) == ("/thing/{Code}/lines", "get_thing_Code_lines")
    assert "required query parameter 'Page' is missing" in _violation(
        contract.validate_request, "GET", "/thing/AB-1/lines", AUTH
    )
    assert "is not documented" in _violation(contract.find_operation, "GET", "/thing/AB-1/lines/extra")


def test_adjustments_are_reported_with_counts(contract: Cin7Contract) -> None:
    counts = [int(text.split(": ", 1)[1].split()[0]) for text in contract.adjustments]
    assert len(counts) == 3
    assert all(count > 0 for count in counts)


# --------------------------------------------------------------------------------------------------
# Sample payloads
# --------------------------------------------------------------------------------------------------

SAMPLES = documented_samples()


def test_every_sample_file_has_a_documented_operation() -> None:
    on_disk = {path.name for path in SAMPLES_DIR.glob("*.json")}
    assert on_disk == {sample.file for sample in SAMPLES}
    assert len(on_disk) == 36


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.file for s in SAMPLES])
def test_sample_validates_against_its_operation(contract: Cin7Contract, sample: Sample) -> None:
    body = load_sample(sample.file)
    if sample.kind == "response":
        operation = contract.validate_response(sample.method, sample.url, 200, JSON_HEADERS, body)
    else:
        operation = contract.validate_request(sample.method, sample.url, JSON_HEADERS, body)
    assert sample.documented_key.strip() in {key.strip() for key in operation.source_paths}


def test_samples_the_document_gives_no_schema_for(contract: Cin7Contract) -> None:
    """These two pass only because there is nothing to check them against; the report names them."""
    assert contract.find_operation("GET", "/sale/creditnote").response_schema_pointer(200) is None
    assert contract.find_operation("POST", "/sale/attachment").request_body_pointer is None
    checked = [s.file for s in SAMPLES if _has_schema(contract, s)]
    assert len(checked) == len(SAMPLES) - 2


def _has_schema(contract: Cin7Contract, sample: Sample) -> bool:
    operation = contract.find_operation(sample.method, sample.url)
    if sample.kind == "response":
        return operation.response_schema_pointer(200) is not None
    return operation.request_body_pointer is not None


# --------------------------------------------------------------------------------------------------
# Broken variants
# --------------------------------------------------------------------------------------------------


def _violation(call: Any, *args: Any) -> str:
    with pytest.raises(ContractViolation) as caught:
        call(*args)
    return str(caught.value)


def test_wrong_type_for_total(contract: Cin7Contract) -> None:
    body = load_sample("sale-list.get.response.json")
    body["Total"] = "2"
    message = _violation(contract.validate_response, "GET", f"{BASE_URL}/saleList?Page=1", 200, JSON_HEADERS, body)
    assert "GET /saleList [get_saleList]: response 200" in message
    assert '$.Total: expected number, got string "2"' in message


def test_missing_required_field(contract: Cin7Contract) -> None:
    body = load_sample("advanced-purchase-invoice.get.response.json")
    del body["Invoices"][0]["InvoiceDate"]
    url = f"{BASE_URL}/advanced-purchase/invoice?PurchaseID=x"
    message = _violation(contract.validate_response, "GET", url, 200, JSON_HEADERS, body)
    assert "$.Invoices[0]: 'InvoiceDate' is a required property" in message


def test_number_where_a_string_is_required(contract: Cin7Contract) -> None:
    body = load_sample("sale.get.response.json")
    body["Customer"] = 5
    body["Invoices"][0]["InvoiceNumber"] = 1001
    message = _violation(contract.validate_response, "GET", f"{BASE_URL}/sale?ID=x", 200, JSON_HEADERS, body)
    assert "$.Customer: expected string, got number 5" in message
    assert "$.Invoices[0].InvoiceNumber: expected string, got number 1001" in message


def test_null_only_where_the_document_shows_null(contract: Cin7Contract) -> None:
    body = load_sample("sale.get.response.json")
    body["Invoices"][0]["Memo"] = None  # shown as null elsewhere in the document: allowed
    contract.validate_response("GET", f"{BASE_URL}/sale?ID=x", 200, JSON_HEADERS, body)
    body["Invoices"][0]["Total"] = None  # never shown as null: still a violation
    message = _violation(contract.validate_response, "GET", f"{BASE_URL}/sale?ID=x", 200, JSON_HEADERS, body)
    assert "$.Invoices[0].Total: expected number, got null" in message


def test_arrays_inferred_from_empty_examples_take_objects_but_not_strings(contract: Cin7Contract) -> None:
    body = load_sample("sale.get.response.json")
    payment = {"ID": "p1", "Reference": "", "Amount": 358, "DatePaid": "2017-11-30T00:00:00", "Account": "090"}
    body["Invoices"][0]["Payments"] = [payment]
    contract.validate_response("GET", f"{BASE_URL}/sale?ID=x", 200, JSON_HEADERS, body)
    body["Invoices"][0]["Payments"] = ["p1"]
    message = _violation(contract.validate_response, "GET", f"{BASE_URL}/sale?ID=x", 200, JSON_HEADERS, body)
    assert '$.Invoices[0].Payments[0]: expected object, got string "p1"' in message


def test_location_bins_are_checked_as_objects(contract: Cin7Contract) -> None:
    body = load_sample("ref-location.get.response.json")
    body["LocationList"][1]["Bins"][0]["Name"] = 7
    message = _violation(contract.validate_response, "GET", f"{BASE_URL}/ref/location", 200, JSON_HEADERS, body)
    assert "$.LocationList[1].Bins[0].Name: expected string, got number 7" in message


def test_unknown_query_parameter(contract: Cin7Contract) -> None:
    message = _violation(contract.validate_request, "GET", f"{BASE_URL}/sale?ID=x&IncludeEverything=true", AUTH)
    assert "GET /sale [get_sale]: request" in message
    assert "query parameter 'IncludeEverything' is not declared (declared: ID, CombineAdditionalCharges," in message


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Page=two", "query parameter Page='two': expected a number"),
        ("Page=1&page=2", "query parameter 'page' is given more than once"),
        ("ReadyForShipping=yes", "query parameter ReadyForShipping='yes': expected true or false"),
    ],
)
def test_bad_query_values(contract: Cin7Contract, query: str, expected: str) -> None:
    assert expected in _violation(contract.validate_request, "GET", f"{BASE_URL}/saleList?{query}", AUTH)


def test_query_names_and_booleans_compare_case_insensitively(contract: Cin7Contract) -> None:
    url = f"{BASE_URL}/saleList?page=2&LIMIT=1000&readyforshipping=True"
    assert contract.validate_request("GET", url, AUTH).operation_id == "get_saleList"


def test_missing_required_query_parameter(contract: Cin7Contract) -> None:
    message = _violation(contract.validate_request, "GET", f"{BASE_URL}/purchase/payment", AUTH)
    assert "required query parameter 'TaskID' is missing" in message


@pytest.mark.parametrize("header", ["api-auth-accountid", "api-auth-applicationkey"])
def test_missing_auth_header(contract: Cin7Contract, header: str) -> None:
    headers = {name: value for name, value in AUTH.items() if name != header}
    message = _violation(contract.validate_request, "GET", f"{BASE_URL}/me", headers)
    assert f"header '{header}' is missing or empty" in message
    blank = {**AUTH, header: " "}
    assert f"header '{header}' is missing or empty" in _violation(
        contract.validate_request, "GET", f"{BASE_URL}/me", blank
    )


def test_auth_header_names_are_case_insensitive(contract: Cin7Contract) -> None:
    headers = {"API-Auth-AccountId": "a", "Api-Auth-ApplicationKey": "b"}
    assert contract.validate_request("GET", f"{BASE_URL}/me", headers).operation_id == "get_me"


def test_request_body_checked_against_its_schema(contract: Cin7Contract) -> None:
    body = load_sample("sale-payment.post.request.json")
    body["Amount"] = "358.00"
    message = _violation(contract.validate_request, "POST", f"{BASE_URL}/sale/payment", JSON_HEADERS, body)
    assert "POST /sale/payment [post_sale_payment]: request" in message
    assert '$.Amount: expected number, got string "358.00"' in message


def test_request_body_needs_json_content_type_and_a_writing_method(contract: Cin7Contract) -> None:
    body = load_sample("sale-payment.post.request.json")
    message = _violation(contract.validate_request, "POST", f"{BASE_URL}/sale/payment", AUTH, body)
    assert "request Content-Type is 'missing'" in message
    message = _violation(contract.validate_request, "GET", f"{BASE_URL}/me", JSON_HEADERS, {"x": 1})
    assert "the operation takes no request body, but one was sent" in message


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, {"message": "bad"}, "(1) $: 'ErrorCode' is a required property; (2) $: expected array, got object"),
        (500, [{"ErrorCode": "500", "Exception": "x"}], '(2) $[0].ErrorCode: expected integer, got string "500"'),
        (403, {"ErrorCode": 403, "Exception": 12}, "(1) $.Exception: expected string, got number 12"),
        (503, [], "(2) $: [] should be non-empty"),
        (404, None, "the body is empty, but the contract documents a JSON body"),
    ],
)
def test_error_body_of_the_wrong_shape(contract: Cin7Contract, status: int, body: Any, expected: str) -> None:
    message = _violation(contract.validate_response, "GET", f"{BASE_URL}/saleList", status, JSON_HEADERS, body)
    assert f"GET /saleList [get_saleList]: response {status} violates the Cin7 contract" in message
    assert expected in message


@pytest.mark.parametrize(
    "body", [{"ErrorCode": 400, "Exception": "Page must be > 0"}, [{"ErrorCode": 503, "Exception": "limit"}]]
)
def test_error_model_as_object_or_list(contract: Cin7Contract, body: Any) -> None:
    status = 400 if isinstance(body, dict) else 503
    assert (
        contract.validate_response("GET", f"{BASE_URL}/saleList", status, JSON_HEADERS, body).operation_id
        == "get_saleList"
    )


def test_status_and_content_type_rules(contract: Cin7Contract) -> None:
    url = f"{BASE_URL}/webhooks?ID=x"
    contract.validate_response("DELETE", url, 204, {}, None)
    assert "a 204 response must not have a body" in _violation(
        contract.validate_response, "DELETE", url, 204, {}, {"a": 1}
    )
    assert "status 302 is not documented (200, 204, 4XX, 5XX)" in _violation(
        contract.validate_response, "DELETE", url, 302, {}, None
    )
    html = {"Content-Type": "text/html"}
    message = _violation(
        contract.validate_response, "GET", f"{BASE_URL}/me", 200, html, load_sample("me.get.response.json")
    )
    assert "response Content-Type is 'text/html'" in message


# --------------------------------------------------------------------------------------------------
# URL matching
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "operation_id", "source_key"),
    [
        ("GET", f"{BASE_URL}/sale?ID=x", "get_sale", "/sale?ID={ID}&CombineAdditionalCharges="),
        ("GET", f"{BASE_URL}/sale/invoice?SaleID=x", "get_sale_invoice", "/sale/invoice?SaleID={SaleID}&"),
        (
            "GET",
            f"{BASE_URL}/saleList?Page=2&Limit=1000&UpdatedSince=2024-05-01T00:00:00Z",
            "get_saleList",
            "/saleList?Page={Page}&Limit={Limit}&",
        ),
        ("GET", f"{BASE_URL}/purchase/payment?TaskID=x", "get_purchase_payment", "/purchase/payment?TaskID={TaskID}"),
        ("GET", f"{BASE_URL}/advanced-purchase?ID=x", "get_advanced_purchase", "/advanced-purchase?ID={ID}&"),
        ("GET", f"{BASE_URL}/ref/account?Page=1&Limit=1000", "get_ref_account", "/ref/account?Page={Page}&"),
        ("GET", f"{BASE_URL}/me", "get_me", "/me"),
        ("GET", f"{BASE_URL}/webhooks", "get_webhooks", "/webhooks"),
        ("DELETE", f"{BASE_URL}/webhooks?ID=x", "delete_webhooks", "/webhooks?ID={ID}"),
        ("DELETE", f"{BASE_URL}/sale/invoice?TaskID=x&Void=true", "delete_sale_invoice", "/sale/invoice?TaskID="),
        ("GET", "https://inventory.dearsystems.com/externalapi/v2/sale?ID=x", "get_sale", "/sale?ID={ID}&"),
        ("GET", "http://127.0.0.1:8089/EXTERNALAPI/V2/SaleList?page=1", "get_saleList", "/saleList?"),
        ("get", "/ref/account?Page=1&Limit=1000", "get_ref_account", "/ref/account?Page={Page}&"),
    ],
)
def test_url_matching_picks_the_operation(
    contract: Cin7Contract, method: str, url: str, operation_id: str, source_key: str
) -> None:
    operation = contract.validate_request(method, url, AUTH)
    assert operation.operation_id == operation_id
    assert any(key.startswith(source_key) for key in operation.source_paths), operation.source_paths


@pytest.mark.parametrize(
    ("method", "url", "expected"),
    [
        ("GET", f"{BASE_URL}/saleLists", "path '/saleLists' is not documented (did you mean /saleList"),
        ("PATCH", f"{BASE_URL}/sale?ID=x", "method PATCH is not documented for /sale (DELETE, GET, POST, PUT)"),
        ("GET", "https://inventory.dearsystems.com/api/v2/me", "is not under the Cin7 API base path /ExternalApi/v2/"),
    ],
)
def test_urls_outside_the_contract(contract: Cin7Contract, method: str, url: str, expected: str) -> None:
    assert expected in _violation(contract.validate_request, method, url, AUTH)


# --------------------------------------------------------------------------------------------------
# requests adapters
# --------------------------------------------------------------------------------------------------


class _CannedCin7(BaseAdapter):
    """A transport that answers every request with one canned response, so a real Session runs its hooks."""

    def __init__(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.status, self.body = status, body
        self.headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = self.status
        response.headers = CaseInsensitiveDict(self.headers)
        response._content = self.body
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        """Nothing to release."""


def _session(status: int, body: Any, headers: Mapping[str, str] | None = None) -> requests.Session:
    session = requests.Session()
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    session.mount("https://", _CannedCin7(status, raw, headers))
    return session


def test_exchange_adapter_accepts_a_good_exchange(contract: Cin7Contract) -> None:
    response = _session(200, load_sample("sale-invoice.get.response.json")).get(
        f"{BASE_URL}/sale/invoice", params={"SaleID": "x", "IncludeProductInfo": "true"}, headers=AUTH
    )
    validate_requests_exchange(response, contract)  # raises on any violation


def test_exchange_adapter_reports_request_and_response(contract: Cin7Contract) -> None:
    body = copy.deepcopy(load_sample("sale-invoice.get.response.json"))
    body["Invoices"][0]["Lines"][0]["Total"] = "8.00"
    response = _session(200, body).get(f"{BASE_URL}/sale/invoice?SaleID=x&Expand=1", headers=AUTH)
    with pytest.raises(ContractViolation) as caught:
        validate_requests_exchange(response, contract)
    message = str(caught.value)
    assert "query parameter 'Expand' is not declared" in message
    assert '$.Invoices[0].Lines[0].Total: expected number, got string "8.00"' in message


def test_session_checks_collect_violations_without_raising(contract: Cin7Contract) -> None:
    session = _session(400, {"ErrorCode": 400, "Exception": "Incorrect SaleID"})
    violations = attach_contract_checks(session, contract)
    good = session.post(f"{BASE_URL}/sale/payment", json=load_sample("sale-payment.post.request.json"), headers=AUTH)
    assert (good.status_code, violations) == (400, [])
    bad = session.post(f"{BASE_URL}/sale/payment", data={"SaleID": "x"}, headers=AUTH)
    assert bad.status_code == 400
    assert len(violations) == 1
    assert violations[0].subject == "request body"
    assert "is not JSON" in str(violations[0])


def test_session_checks_flag_a_non_json_response(contract: Cin7Contract) -> None:
    session = _session(503, b"<html>Service Unavailable</html>", {"Content-Type": "text/html"})
    violations = attach_contract_checks(session, contract)
    session.get(f"{BASE_URL}/me", headers=AUTH)
    assert [v.subject for v in violations] == ["response 503 body"]
    assert "is not JSON" in str(violations[0])
