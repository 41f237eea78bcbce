"""DXSO ("DATEV XML-Schnittstelle online") packages for accounting-dxso-jobs: document.xml plus one
ledger import file and one PDF per invoice, checked against the consolidate rules and DATEV's XSDs."""

from datev_cin7_pipeline.datev.dxso.checks import DxsoError, DxsoFinding, check_job, check_ledger_xml
from datev_cin7_pipeline.datev.dxso.model import (
    DxsoDocument,
    DxsoJob,
    LedgerKind,
    LedgerRecord,
    Party,
    RecordConversionError,
    records_from_booking_lines,
)
from datev_cin7_pipeline.datev.dxso.schema import DxsoSchemas, load_schemas, schema_errors
from datev_cin7_pipeline.datev.dxso.writer import DxsoPackage, build_package, document_xml, ledger_xml, safe_file_name

__all__ = [
    "DxsoDocument",
    "DxsoError",
    "DxsoFinding",
    "DxsoJob",
    "DxsoPackage",
    "DxsoSchemas",
    "LedgerKind",
    "LedgerRecord",
    "Party",
    "RecordConversionError",
    "build_package",
    "check_job",
    "check_ledger_xml",
    "document_xml",
    "ledger_xml",
    "load_schemas",
    "records_from_booking_lines",
    "safe_file_name",
    "schema_errors",
]
