"""One document whose PDF cannot land in DATEV (a bad attachment, or a file DATEV refuses) does not stop the
period: it is recorded as failed, named in the ERROR check `datev_accepted_the_pdfs` with the reason, its
booking rows go to DATEV without the `BEDI` link to a document DATEV never got, and the other documents and
the EXTF job still go. A problem that concerns every document (login, outage, an unclear send) still stops
the step before any booking leaves."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from datev_cin7_pipeline.datev.api import DatevApi, DatevApiError, DatevUnclearError
from datev_cin7_pipeline.datev.transfer import refused_for_this_document
from datev_cin7_pipeline.defs.datev.assets import INVOICES_HAVE_PDFS, PDFS_ACCEPTED
from datev_cin7_pipeline.sandbox.datev import read_manifest
from datev_cin7_pipeline_tests.verification.hostile_support import (
    HostileData,
    PeriodRun,
    guid,
    hostile_environment,
    materialize,
    run_group,
    table,
)

HTML = b"<html><body>Rechnung</body></html>"
NFD_NUMBER = "RE-Mu\u0308ller-7"


def _attachment(case: str, url: str = "-") -> list[dict[str, Any]]:
    return [
        {"ID": guid("attachment", case), "ContentType": "application/pdf", "FileName": "Beleg.pdf", "DownloadUrl": url}
    ]


def _data() -> HostileData:
    """The demo company plus: an attachment that is HTML, the same PDF bytes on two invoices (DATEV refuses the
    second as #DCO01253), and an invoice number with a decomposed ü (its note must be sent composed)."""
    data = HostileData()
    data.sale("html", "HX-HTML", attachments=_attachment("html"), files={"Beleg.pdf": HTML})
    pdf = data.unique_pdf("same")
    for case in ("same-1", "same-2"):
        data.sale(
            case, case.upper().replace("SAME", "HX-SAME"), attachments=_attachment(case), files={"Beleg.pdf": pdf}
        )
    data.sale("nfd", NFD_NUMBER)
    return data


def _ledger_documents(run: PeriodRun) -> dict[str, tuple[str, str]]:
    engine = sa.create_engine(f"sqlite:///{_state_db(run)}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT guid, status, error FROM document_ledger")).all()
    finally:
        engine.dispose()
    return {guid_: (status, error or "") for guid_, status, error in rows}


def _ledger_links(run: PeriodRun, cin7_id: str) -> list[str]:
    engine = sa.create_engine(f"sqlite:///{_state_db(run)}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT lines FROM booking_ledger WHERE cin7_document_id = :id"), {"id": cin7_id}
            ).all()
    finally:
        engine.dispose()
    return [line.get("document_link", "") for (lines,) in rows for line in json.loads(lines)]


def _state_db(run: PeriodRun) -> Path:
    (path,) = run.home.glob("**/*.db")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[PeriodRun]:
    """May materialized twice against the same simulators (the second run finds everything already sent)."""
    with hostile_environment(_data().data, tmp_path_factory.mktemp("refusals")) as environment:
        return [materialize(environment), materialize(environment)]


def test_a_refused_pdf_is_named_and_the_rest_of_the_period_still_goes(runs: list[PeriodRun]) -> None:
    run = runs[0]
    assert run.success
    assert run.failures == {}
    check = run.checks[PDFS_ACCEPTED]
    assert (check.passed, check.severity) == (False, "ERROR")
    refused = {row["number"]: row for row in table(check.metadata["not_accepted"])}
    assert set(refused) == {"HX-HTML", "HX-SAME-1"}
    assert refused["HX-HTML"]["reason"] == "The attachment 'Beleg.pdf' is not a PDF."
    assert refused["HX-HTML"]["Cin7 id"] == guid("task", "html")
    assert "(400 #DCO01253): the same file already exists in Belege online." in refused["HX-SAME-1"]["reason"]
    # Booked without Beleg: also the WARN list of documents that go without one.
    warned = {row["number"] for row in table(run.checks[INVOICES_HAVE_PDFS].metadata["without_pdf"])}
    assert {"HX-HTML", "HX-SAME-1"} <= warned
    # The ledger knows they are not in DATEV, and why.
    documents = _ledger_documents(run)
    assert documents[refused["HX-HTML"]["document GUID"]] == ("failed", "The attachment 'Beleg.pdf' is not a PDF.")
    assert documents[refused["HX-SAME-1"]["document GUID"]][0] == "failed"
    # The HTML never reached DATEV; the EXTF job did.
    assert hashlib.sha256(HTML).hexdigest() not in {upload["sha256"] for upload in run.uploads}
    assert run.extf
    assert run.checks["datev_jobs_succeeded"].passed


def test_rows_of_a_refused_pdf_go_without_their_link_and_every_link_sent_resolves(runs: list[PeriodRun]) -> None:
    run = runs[0]
    uploaded = {f'BEDI "{upload["guid"]}"' for upload in run.uploads}
    assert all(row.document_link in uploaded | {""} for row in run.lines)
    for number in ("HX-HTML", "HX-SAME-1"):
        rows = run.rows_for(number)
        assert rows  # booked …
        assert all(row.document_link == "" for row in rows)  # … without Beleg
    assert all(row.document_link in uploaded for row in run.rows_for("HX-SAME-2"))  # its twin keeps its link
    without = table(run.metadata["datev_extf_batches"]["rows_without_beleg"])
    assert {row["Cin7 id"] for row in without} == {guid("task", "html"), guid("task", "same-1")}
    assert all(row["why"].startswith("PDF failed: ") and row["file"].startswith("EXTF_") for row in without)
    # The ledger's lines keep the link: the file is derived from them, and a later revision can link again.
    (link,) = set(_ledger_links(run, guid("task", "html")))
    assert link.startswith('BEDI "')


def test_the_note_goes_composed(runs: list[PeriodRun]) -> None:
    run = runs[0]
    note = None
    for upload in run.uploads:
        metadata = json.loads((run.capture / Path(upload["path"]).parent / "metadata.json").read_text("utf-8"))
        if metadata["metadata"].get("note", "").startswith("Cin7 RE-M"):
            note = metadata["metadata"]["note"]
    assert note == unicodedata.normalize("NFC", f"Cin7 {NFD_NUMBER}")
    assert run.rows_for("RE-Mueller-7")
    assert all(row.document_link for row in run.rows_for("RE-Mueller-7"))


def test_a_second_run_sends_nothing_twice_and_still_names_the_refusal(runs: list[PeriodRun]) -> None:
    first, second = runs
    assert second.success
    assert second.extf == []  # the rows are in the first run's job; nothing is booked twice
    assert second.uploads == []  # the refused ones are tried again and refused again
    refused = {row["number"] for row in table(second.checks[PDFS_ACCEPTED].metadata["not_accepted"])}
    assert refused == {"HX-HTML", "HX-SAME-1"}
    assert len(read_manifest(first.capture)) == len(read_manifest(second.capture))  # nothing new accepted


@pytest.mark.parametrize(
    ("error", "for_this_document"),
    [
        (DatevApiError("bad name", status=400), True),
        (DatevApiError("refused", status=400, code="#DCO01253"), True),
        (DatevApiError("refused", status=400, code="#DCO01008"), True),
        (DatevApiError("too large", status=413), True),
        (DatevApiError("no type", status=400, code="#DCO01010"), False),  # every document of the kind
        (DatevApiError("login", status=401), False),
        (DatevApiError("scope", status=403, code="#DCO01005"), False),
        (DatevApiError("throttled", status=429), False),
        (DatevApiError("maintenance", status=503), False),
        (DatevApiError("unreachable", status=0), False),
        (DatevUnclearError("broke", status=0), False),
    ],
    ids=lambda value: str(getattr(value, "code", "") or getattr(value, "status", value)),
)
def test_only_a_refusal_of_the_one_document_is_passed_over(error: DatevApiError, for_this_document: bool) -> None:
    assert refused_for_this_document(error) is for_this_document


@pytest.mark.parametrize(
    "error",
    [DatevApiError("DATEV refused the login (401).", status=401), DatevUnclearError("The connection broke.", status=0)],
    ids=["login", "unclear"],
)
def test_a_problem_of_every_document_stops_the_step_before_any_booking_leaves(
    error: DatevApiError, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def upload_document(self: DatevApi, *args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(DatevApi, "upload_document", upload_document)
    _, (run,) = run_group(HostileData().data, tmp_path)
    assert list(run.failures) == ["datev_documents"]
    assert str(error) in run.failures["datev_documents"]
    assert run.uploads == []
    assert run.extf == []
    assert not {"datev_extf_batches", "datev_booking_jobs"} & set(run.metadata)  # never ran
