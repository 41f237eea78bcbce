"""accounting-extf-files over HTTP: the synchronous refusals, the asynchronous job, DATEV's header checks
(one case per line of the 1008834 table), encodings, the sandbox's row rules, and the jobs list."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from datev_cin7_pipeline.sandbox.datev.extf_format import SANDBOX_ROW_RULES_TYPE
from datev_cin7_pipeline_tests.sandbox_datev.conftest import ServeDatev
from datev_cin7_pipeline_tests.sandbox_datev.datev_contract import validate_response
from datev_cin7_pipeline_tests.sandbox_datev.helpers import (
    CLIENT,
    CLIENT_WITHOUT_EXTF,
    SAMPLES,
    DatevSim,
    booking_row,
    extf_file,
    header_line,
)

HEADER_ERROR = "http://www.datev.de/hilfe/1008834"
FILE_ERROR = "http://www.datev.de/hilfe/1008833"


def _finished_job(sim: DatevSim, data: bytes, **headers: str) -> dict[str, Any]:
    """Upload, let the processing time pass on the fake clock, and read the final job."""
    answer = sim.upload_extf(data, **headers)
    assert answer.status_code == 202, answer.text
    sim.clock.advance(10)
    return sim.job(answer.headers["Location"])


def _failure(job: dict[str, Any], type_: str) -> list[str]:
    assert job["result"] == "failed"
    details = job["validation_details"]
    assert details["type"] == type_
    return [element["reason"] for element in details.get("affected_elements", [])]


def test_an_upload_is_accepted_and_its_job_finishes_on_the_clock(sim: DatevSim) -> None:
    answer = sim.upload_extf(
        extf_file([booking_row(), booking_row({11: '"RE-2025-002"'})]), **{"Reference-Id": "tenant-a_2025-06_1"}
    )
    validate_response(answer, check_request=True)
    assert answer.status_code == 202
    assert answer.text == ""
    assert answer.headers["Retry-After"] == "5"
    location = answer.headers["Location"]
    assert location.startswith(f"/clients/{CLIENT}/extf-files/jobs/")
    job_url = sim.urls["accounting-extf-files"] + location
    pending = sim.session.get(job_url, timeout=10)
    validate_response(pending, check_request=True)
    assert pending.json()["result"] == "pending"
    assert "number_of_accounting_records" not in pending.json()
    sim.clock.advance(9.9)
    assert sim.job(location)["result"] == "pending"
    sim.clock.advance(0.1)
    done = sim.session.get(job_url, timeout=10)
    validate_response(done)
    job = done.json()
    assert job["result"] == "succeeded"
    assert job["id"] == location.rsplit("/", 1)[1]
    assert (job["filename"], job["reference_id"]) == ("EXTF_Buchungsstapel_2025_06.csv", "tenant-a_2025-06_1")
    assert (job["data_category_id"], job["label"], job["number_of_accounting_records"]) == (21, "Juni 2025", 2)
    assert (job["date_from"], job["date_to"], job["fiscal_year_begin"]) == ("2025-06-01", "2025-06-30", "2025-01-01")
    assert job["timestamp"] == "2025-06-15T12:00:00Z"
    assert job["client_application_display_name"] == "datev-cin7-pipeline"
    assert "validation_details" not in job


def test_processing_time_and_retry_after_are_configurable(serve: ServeDatev) -> None:
    sim = serve(extf_processing_seconds=0, extf_retry_after_seconds=2)
    sim.login()
    answer = sim.upload_extf(extf_file())
    assert answer.headers["Retry-After"] == "2"
    assert sim.job(answer.headers["Location"])["result"] == "succeeded"


def test_datev_does_not_deduplicate(sim: DatevSim) -> None:
    first = sim.upload_extf(extf_file(), **{"Reference-Id": "same"})
    second = sim.upload_extf(extf_file(), **{"Reference-Id": "same"})
    assert first.headers["Location"] != second.headers["Location"]
    assert len(sim.admin_get("jobs")["extf"]) == 2


# --- synchronous refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({"Filename": ""}, "Filename is empty"),
        ({"Filename": "Buchungen.csv"}, "Filename must conform to following pattern'EXTF_.{0,51}.csv"),
        ({"Filename": "EXTF_Buchungen.CSV"}, "Filename must conform to following pattern'EXTF_.{0,51}.csv"),
        ({"Filename": "EXTF_" + "x" * 52 + ".csv"}, "Filename must conform to following pattern'EXTF_.{0,51}.csv"),
        (
            {"Reference-Id": "a/b"},
            "Reference-Id must conform to following pattern'[-0-9A-Za-z_äöüÄÖÜß_. +\\\\?;]{0,254}",
        ),
        (
            {"Reference-Id": "r" * 255},
            "Reference-Id must conform to following pattern'[-0-9A-Za-z_äöüÄÖÜß_. +\\\\?;]{0,254}",
        ),
        ({"Client-Application-Version": "1.0#beta"}, "Client-Application-Version must conform"),
    ],
    ids=[
        "empty filename",
        "no prefix",
        "upper-case .CSV",
        "name too long",
        "reference char",
        "reference length",
        "version",
    ],
)
def test_bad_headers_get_1008832(sim: DatevSim, headers: dict[str, str], detail: str) -> None:
    answer = sim.upload_extf(extf_file(), **headers)
    validate_response(answer)
    assert answer.status_code == 400
    body = answer.json()
    assert body["type"] == "http://www.datev.de/hilfe/1008832"
    assert body["detail"].startswith(detail)
    assert sim.admin_get("jobs")["extf"] == []


def test_limits_of_the_filename_and_reference_patterns_are_accepted(sim: DatevSim) -> None:
    for headers in (
        {"Filename": "EXTF_.csv"},
        {"Filename": "EXTF_" + "x" * 51 + ".csv"},
        {"Reference-Id": "Buchungsstapel_Verkäufe_2020_01_Nr_001"},  # the spec's example, with an umlaut
        {"Reference-Id": "r" * 254},
    ):
        assert sim.upload_extf(extf_file(), **headers).status_code == 202, headers


def test_the_csv_case_rule_can_be_relaxed(serve: ServeDatev) -> None:
    sim = serve(extf_filename_case_sensitive=False)
    sim.login()
    assert sim.upload_extf(extf_file(), filename="EXTF_Buchungen.CSV").status_code == 202


def test_other_synchronous_refusals(sim: DatevSim) -> None:
    base = sim.urls["accounting-extf-files"]
    headers = {"Filename": "EXTF_a.csv", "Content-Type": "application/octet-stream"}
    bad_path = sim.session.post(base + "/clients/29098_55003/extf-files/import", data=b"x", headers=headers, timeout=10)
    validate_response(bad_path)
    assert (bad_path.status_code, bad_path.json()["type"]) == (400, "http://www.datev.de/hilfe/1008835")
    assert bad_path.json()["affected_elements"] == [
        {"name": "client-id", "reason": bad_path.json()["detail"]},
    ]
    unknown = sim.session.post(base + "/clients/29098-99999/extf-files/import", data=b"x", headers=headers, timeout=10)
    assert unknown.status_code == 404
    csv_type = sim.upload_extf(extf_file(), **{"Content-Type": "text/csv"})
    validate_response(csv_type)
    assert (csv_type.status_code, csv_type.json()["title"]) == (415, "Unsupported Media Type")
    empty = sim.upload_extf(b"")
    assert (empty.status_code, empty.json()["type"]) == (400, "http://www.datev.de/hilfe/1008831")
    assert sim.admin_get("jobs")["extf"] == []


def test_files_over_50_mb_get_413(sim: DatevSim) -> None:
    answer = sim.upload_extf(b"x" * (50 * 1024 * 1024 + 1))
    validate_response(answer)
    assert answer.status_code == 413
    assert answer.json()["type"] == FILE_ERROR
    assert answer.json()["detail"] == "File size exceeds 50 MB"


# --- the header checks DATEV documents (1008834) ------------------------------------------------------

HEADER_CASES: list[tuple[dict[int, str], str]] = [
    ({1: '"DTVF"'}, "Error in header field - DATEV Format Label - must be EXTF (1)"),
    ({2: "510"}, "Error in header field - Version Number - is invalid (2)"),
    ({3: "99"}, "Error in header field - Data Category - is invalid (3)"),
    ({4: '"Buchungsliste"'}, "Error in header field - Format Name - is invalid (4)"),
    ({5: "x"}, "Error in header field - Format Version - is invalid (5)"),
    ({5: "12"}, "Invalid combination of data category, format name and format version"),
    ({3: "16"}, "Invalid combination of data category, format name and format version"),
    ({6: "2025061512"}, "Error in header field - Created On - is invalid (6)"),
    ({6: "20251315120000000"}, "Error in header field - Created On - is invalid (6)"),
    ({7: "1"}, "Error in header field - Imported - is invalid (7)"),
    ({11: "999"}, "Error in header field - Consultant - is invalid (11)"),
    ({12: "0"}, "Error in header field - Client - is invalid (12)"),
    ({13: "20251301"}, "Error in header field - FY Begin - is invalid (13)"),
    ({14: "9"}, "Error in header field - Length of Ledger Account - is invalid (14)"),
    ({15: "20250631"}, "Error in header field - Date From - is invalid (15)"),
    ({16: ""}, "Error in header field - Date To - is invalid (16)"),
    ({15: "20250630", 16: "20250601"}, "DateFrom must not be greater than DateTo"),
    ({11: "29099"}, "The consultant-number in the EXTF-header does not match with the upload request"),
    ({12: "55004"}, "The client-number in the EXTF-header does not match with the upload request"),
    ({23: "1"}, "Error in header field - Reserved - must be empty (23)"),
    ({24: '"X"'}, "Error in header field - Reserved - must be empty (24)"),
    ({25: "1"}, "Error in header field - Reserved - must be empty (25)"),
    ({26: "1"}, "Error in header field - Reserved - must be empty (26)"),
    ({29: "1"}, "Error in header field - Reserved - must be empty (29)"),
    ({30: '"x"'}, "Error in header field - Reserved - must be empty (30)"),
    ({17: '"' + "B" * 1000 + '"'}, "EXTF-header exceeds maximum length of 1000 characters"),
]


@pytest.mark.parametrize(("changes", "reason"), HEADER_CASES, ids=[reason[:60] for _, reason in HEADER_CASES])
def test_each_documented_header_error_fails_the_job(sim: DatevSim, changes: dict[int, str], reason: str) -> None:
    job = _finished_job(sim, extf_file(header=header_line(changes)))
    assert _failure(job, HEADER_ERROR) == [reason]
    assert job["validation_details"]["detail"] == reason
    assert job["validation_details"]["title"] == "Invalid EXTF-header"


def test_missing_header_columns(sim: DatevSim) -> None:
    job = _finished_job(sim, extf_file(header=header_line(fields=26)))
    assert _failure(job, HEADER_ERROR) == ["Missing columns in EXTF-header"]


def test_several_header_errors_are_listed_together(sim: DatevSim) -> None:
    job = _finished_job(sim, extf_file(header=header_line({1: '"DTVF"', 12: "1"})))
    assert _failure(job, HEADER_ERROR) == [
        "Error in header field - DATEV Format Label - must be EXTF (1)",
        "The client-number in the EXTF-header does not match with the upload request",
    ]
    assert job["validation_details"]["detail"] == "Fields with error"


# --- the file checks (1008833) and encodings ---------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xef\xbb\xbf", "No payload"),
        (b"\xef\xbb\xbf\r\n\r\n", "No payload"),
        (extf_file([]), "No payload"),
        (
            b"\xff\xfe\x00\x00" + "EXTF".encode("utf-32-le"),
            "Only Windows-1252, UTF-8, UTF16LE, and UTF16BE are supported",
        ),
        (
            extf_file(encoding="cp1252").replace(b"Juni", b"Ju\x81i"),
            "Only Windows-1252, UTF-8, UTF16LE, and UTF16BE are supported",
        ),
        (b"\xef\xbb\xbf" + b"\xc3\x28", "Only Windows-1252, UTF-8, UTF16LE, and UTF16BE are supported"),
    ],
    ids=["BOM only", "blank lines", "no booking rows", "UTF-32", "byte undefined in 1252", "broken UTF-8"],
)
def test_invalid_files_get_1008833(sim: DatevSim, data: bytes, reason: str) -> None:
    assert _failure(_finished_job(sim, data), FILE_ERROR) == [reason]


def test_more_than_99999_postings(sim: DatevSim) -> None:
    rows = ["1,00"] * 100_000  # counted before any row is read
    job = _finished_job(sim, extf_file(rows))
    assert _failure(job, FILE_ERROR) == ["More than 99999 postings"]
    assert job["number_of_accounting_records"] == 100_000


def test_the_posting_limit_is_inclusive(serve: ServeDatev) -> None:
    sim = serve(extf_max_postings=3)
    sim.login()
    assert _finished_job(sim, extf_file([booking_row()] * 3))["result"] == "succeeded"
    assert _failure(_finished_job(sim, extf_file([booking_row()] * 4)), FILE_ERROR) == ["More than 3 postings"]


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8-sig", "utf-8"),
        ("utf-16-le-bom", "utf-16-le"),
        ("utf-16-be-bom", "utf-16-be"),
        ("cp1252", "windows-1252"),
    ],
    ids=["UTF-8 BOM", "UTF-16LE BOM", "UTF-16BE BOM", "Windows-1252"],
)
def test_the_bom_decides_the_encoding(sim: DatevSim, encoding: str, expected: str) -> None:
    data = extf_file(header=header_line({17: '"Juni 2025 Müller €"'}), encoding=encoding)
    job = _finished_job(sim, data)
    assert job["result"] == "succeeded", job.get("validation_details")
    assert job["label"] == "Juni 2025 Müller €"
    (admin,) = sim.admin_get("jobs")["extf"]
    assert admin["encoding"] == expected


def test_utf8_without_bom_is_read_as_windows_1252(sim: DatevSim) -> None:
    data = extf_file(encoding="utf-8")  # the column headings hold umlauts
    job = _finished_job(sim, data)
    reasons = _failure(job, SANDBOX_ROW_RULES_TYPE)
    assert reasons[0] == "column 8 must be 'Gegenkonto (ohne BU-Schlüssel)', got 'Gegenkonto (ohne BU-SchlÃ¼ssel)'"


# --- the sandbox's row rules --------------------------------------------------------------------------

ROW_CASES: list[tuple[dict[int, str], int, str]] = [
    ({1: "119"}, 1, "must match ^\\d{1,10},\\d{2}$ and be greater than 0, got '119'"),
    ({1: "0,00"}, 1, "must match ^\\d{1,10},\\d{2}$ and be greater than 0, got '0,00'"),
    ({1: "119,5"}, 1, "must match ^\\d{1,10},\\d{2}$ and be greater than 0, got '119,5'"),
    ({1: "1.119,00"}, 1, "must match ^\\d{1,10},\\d{2}$ and be greater than 0, got '1.119,00'"),
    ({1: '"119,00"'}, 1, "a number or date field must not be quoted"),
    ({2: '"X"'}, 2, 'must be "S" or "H", got \'X\''),
    ({2: "H"}, 2, 'a text field must be enclosed in "..."'),
    ({3: '"eur"'}, 3, "must be a currency code [A-Z]{3}, got 'eur'"),
    (
        {3: '"CHF"', 4: "0,000000", 5: "100,00", 6: '"EUR"'},
        4,
        "must match ^\\d{1,4},\\d{2,6}$ and be greater than 0, got '0,000000'",
    ),
    ({3: '"CHF"'}, 4, "the foreign currency CHF needs Kurs, Basis-Umsatz and WKZ Basis-Umsatz"),
    ({7: "84A0"}, 7, "must be an account number of 1-9 digits, got '84A0'"),
    ({8: ""}, 8, "must be an account number of 1-9 digits, got ''"),
    ({8: "1000000"}, 8, "1000000 is longer than a personal account (Sachkontenlänge 4 + 1 digits)"),
    ({9: '"12345"'}, 9, "must be a quoted key of at most 4 digits, got '12345'"),
    ({9: "3"}, 9, 'a text field must be enclosed in "..."'),
    ({10: "3102"}, 10, "3102 is not a date in the batch period 01.06.2025-30.06.2025"),
    ({10: "1507"}, 10, "1507 is not a date in the batch period 01.06.2025-30.06.2025"),
    ({10: "15.06"}, 10, "must be TTMM (day and month), got '15.06'"),
    ({11: '"RE_2025_001"'}, 11, "only A-Z a-z 0-9 $ & % * + - / are allowed, got '_'"),
    ({11: '"' + "R" * 37 + '"'}, 11, "at most 36 characters, got 37"),
    ({12: '"' + "1" * 13 + '"'}, 12, "at most 12 characters, got 13"),
    ({13: "0,00"}, 13, "must match ^\\d{1,8},\\d{2}$ and be greater than 0, got '0,00'"),
    ({14: '"' + "T" * 61 + '"'}, 14, "at most 60 characters, got 61"),
    ({115: "31062025"}, 115, "must be a date TTMMJJJJ, got '31062025'"),
    ({115: "2025-06-15"}, 115, "must be a date TTMMJJJJ, got '2025-06-15'"),
    ({37: '"' + "K" * 37 + '"'}, 37, "at most 36 characters, got 37"),
]


@pytest.mark.parametrize(
    ("changes", "field", "reason"), ROW_CASES, ids=[f"field {f}: {r[:40]}" for _, f, r in ROW_CASES]
)
def test_row_rule_violations_fail_the_job_naming_line_and_field(
    sim: DatevSim, changes: dict[int, str], field: int, reason: str
) -> None:
    job = _finished_job(sim, extf_file([booking_row(), booking_row(changes)]))
    reasons = _failure(job, SANDBOX_ROW_RULES_TYPE)
    names = [element["name"] for element in job["validation_details"]["affected_elements"]]
    assert names[0].startswith(f"line 4, field {field} (")
    assert reasons[0] == reason
    assert job["validation_details"]["detail"].startswith(f"{len(names)} error(s) in the booking rows; first: line 4")


def test_column_count_headings_and_line_breaks(sim: DatevSim) -> None:
    short = ";".join(booking_row().split(";")[:124])
    broken = booking_row({14: '"Zeile 1\r\nZeile 2"'})
    job = _finished_job(sim, extf_file([short, broken], headings="Umsatz;Soll/Haben"))
    elements = job["validation_details"]["affected_elements"]
    assert elements[0] == {"name": "line 2 (column headings)", "reason": "has 2 columns, format version 13 has 125"}
    assert elements[1] == {"name": "line 3", "reason": "has 124 fields, the column headings have 125"}
    assert elements[2]["name"] == "line 4"
    assert elements[2]["reason"].startswith("not readable: an unterminated quote")


def test_quotes_inside_text_fields_are_doubled(sim: DatevSim) -> None:
    row = booking_row({14: '"Lieferung ""Express""; 2 Pakete"'})
    assert _finished_job(sim, extf_file([row]))["result"] == "succeeded"


def test_row_rules_can_be_switched_off(serve: ServeDatev) -> None:
    sim = serve(extf_row_checks=False)
    sim.login()
    assert _finished_job(sim, extf_file([booking_row({1: "119"})]))["result"] == "succeeded"


def test_datevs_own_sample_fails_only_on_its_amount_without_decimals(sim: DatevSim) -> None:
    sample = (SAMPLES / "EXTF_Buchungsstapel_fv13_sample.csv").read_bytes()
    job = _finished_job(sim, b"\xef\xbb\xbf" + sample)
    assert job["number_of_accounting_records"] == 54
    assert job["validation_details"]["affected_elements"] == [
        {
            "name": "line 5, field 1 (Umsatz (ohne Soll/Haben-Kz))",
            "reason": "must match ^\\d{1,10},\\d{2}$ and be greater than 0, got '64083'",
        }
    ]


# --- permissions and forced failures -------------------------------------------------------------------


def test_a_client_without_the_extf_service_fails_with_1008838(sim: DatevSim) -> None:
    url = sim.url("accounting-extf-files", f"/clients/{CLIENT_WITHOUT_EXTF}/extf-files/import")
    headers = {"Filename": "EXTF_a.csv", "Content-Type": "application/octet-stream"}
    answer = sim.session.post(url, data=extf_file(header=header_line({12: "55004"})), headers=headers, timeout=10)
    assert answer.status_code == 202
    sim.clock.advance(10)
    job = sim.job(answer.headers["Location"])
    assert job["result"] == "failed"
    assert job["validation_details"]["type"] == "http://www.datev.de/hilfe/1008838"
    assert "Please contact your tax consultant" in job["validation_details"]["detail"]


def test_forced_failures_hit_the_next_jobs(sim: DatevSim) -> None:
    details = {
        "type": "http://www.datev.de/hilfe/1008836",
        "title": "Virus found",
        "detail": "The transferred EXTF-file contains a virus",
    }
    assert sim.admin("faults", {"extf_job_failures": 1, "extf_failure_details": details}).status_code == 200
    assert _finished_job(sim, extf_file())["validation_details"] == details
    assert _finished_job(sim, extf_file())["result"] == "succeeded"
    sim.admin("faults", {"extf_job_failures": 1, "extf_failure_details": None})
    assert _finished_job(sim, extf_file())["validation_details"]["type"] == "http://www.datev.de/hilfe/1008837"


# --- the jobs list, and recovery after an unclear failure --------------------------------------------


def _list(sim: DatevSim, **params: str) -> requests.Response:
    answer = sim.session.get(
        sim.url("accounting-extf-files", f"/clients/{CLIENT}/extf-files/jobs"), params=params, timeout=10
    )
    validate_response(answer, check_request=True)
    return answer


def test_the_jobs_list_pages_newest_first(sim: DatevSim) -> None:
    for number in range(3):
        sim.upload_extf(extf_file(), **{"Reference-Id": f"batch-{number}"})
        sim.clock.advance(1)
    first_page = _list(sim, top="2")
    assert [job["reference_id"] for job in first_page.json()] == ["batch-2", "batch-1"]
    assert first_page.headers["Total-Items"] == "3"
    assert first_page.headers["Link"] == '<?skip=2&top=2>;rel="next"'
    second_page = _list(sim, skip="2", top="2")
    assert [job["reference_id"] for job in second_page.json()] == ["batch-0"]
    assert second_page.headers["Link"] == '<?skip=0&top=2>;rel="prev"'
    bad = sim.session.get(
        sim.url("accounting-extf-files", f"/clients/{CLIENT}/extf-files/jobs"), params={"top": "-5"}, timeout=10
    )
    validate_response(bad)
    assert bad.json()["affected_elements"] == [{"name": "top", "reason": "Must be a positive integer"}]


def test_an_unknown_job_is_404(sim: DatevSim) -> None:
    answer = sim.session.get(sim.url("accounting-extf-files", f"/clients/{CLIENT}/extf-files/jobs/nope"), timeout=10)
    validate_response(answer)
    assert answer.status_code == 404


def test_a_dropped_answer_after_acceptance_is_recovered_by_reference_id(sim: DatevSim) -> None:
    sim.admin("faults", {"drop_after_accept_burst": 1, "target": "extf-files/import"})
    with pytest.raises(requests.ConnectionError):
        sim.upload_extf(extf_file(), **{"Reference-Id": "tenant-a_2025-06_7"})
    found = [job for job in _list(sim).json() if job.get("reference_id") == "tenant-a_2025-06_7"]
    assert len(found) == 1
    assert found[0]["result"] == "pending"
    calls = sim.admin_get("calls")["calls"]
    dropped = [call for call in calls if call["outcome"] == "dropped after accept"]
    assert len(dropped) == 1
    assert (dropped[0]["status"], dropped[0]["job_id"]) == (None, found[0]["id"])


def test_status_reads_are_counted_per_job(sim: DatevSim) -> None:
    location = sim.upload_extf(extf_file()).headers["Location"]
    for _ in range(3):
        sim.job(location)
    reads = sim.admin_get("calls")["summary"]["status_reads_per_job"]
    assert reads == {location.rsplit("/", 1)[1]: 3}
