"""EXTF (DATEV-Format) files: the Buchungsstapel writer, splitter, reader and validator, and the
Debitoren/Kreditoren master-data file.

Typical use in the pipeline::

    for batch in split_batches(header, lines):
        name = BatchName.of(tenant, batch)
        data = write_extf(batch.header, batch.lines)
        report = validate_extf(data, automatic_accounts=automatic, filename=name.file_name())
        if report.ok:
            upload(data, filename=name.file_name(), reference_id=name.reference_id())
"""

from datev_cin7_pipeline.datev.extf.batches import Batch, BatchName, split_batches, tenant_slug
from datev_cin7_pipeline.datev.extf.columns import HEADING, HEADING_LINE, MAX_ROWS
from datev_cin7_pipeline.datev.extf.encoding import ExtfEncoding
from datev_cin7_pipeline.datev.extf.errors import (
    ExtfEncodingError,
    ExtfError,
    ExtfReadError,
    ExtfWriteError,
)
from datev_cin7_pipeline.datev.extf.personal_accounts import (
    PERSONAL_ACCOUNT_HEADING,
    PersonalAccount,
    personal_account_problems,
    write_personal_accounts,
)
from datev_cin7_pipeline.datev.extf.reader import ExtfBatch, read_extf
from datev_cin7_pipeline.datev.extf.rules import RULES, Rule
from datev_cin7_pipeline.datev.extf.validator import Finding, ValidationReport, validate_extf, validate_extf_file
from datev_cin7_pipeline.datev.extf.writer import ExtfWriter, write_extf, write_extf_file

__all__ = [
    "HEADING",
    "HEADING_LINE",
    "MAX_ROWS",
    "PERSONAL_ACCOUNT_HEADING",
    "RULES",
    "Batch",
    "BatchName",
    "ExtfBatch",
    "ExtfEncoding",
    "ExtfEncodingError",
    "ExtfError",
    "ExtfReadError",
    "ExtfWriteError",
    "ExtfWriter",
    "Finding",
    "PersonalAccount",
    "Rule",
    "ValidationReport",
    "personal_account_problems",
    "read_extf",
    "split_batches",
    "tenant_slug",
    "validate_extf",
    "validate_extf_file",
    "write_extf",
    "write_extf_file",
    "write_personal_accounts",
]
