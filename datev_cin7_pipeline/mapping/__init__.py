"""Mapping configuration and booking rules: Cin7 documents to DATEV bookings (no Dagster).

- `config`: the per-connection mapping file (pydantic, YAML); `presets`: SKR03/SKR04 wholesaler presets;
  `starter`: a first mapping from the presets and the connection's Cin7 master data; `check`: every gap
  and conflict with a stable code (`issues`).
- `booking.book_period` (and the per-document functions in `rules`): Cin7 documents to `BookingLine`s,
  documents with gaps held with their reasons; `reversal`: storno of changed or voided documents.
- `registry`: personal account numbers, assigned once; `frames`: pandera models and validation.
"""

from datev_cin7_pipeline.mapping.booking import book_period
from datev_cin7_pipeline.mapping.check import check_mapping
from datev_cin7_pipeline.mapping.config import MappingConfig, MappingFileError, parse_mapping
from datev_cin7_pipeline.mapping.fields import belegfeld1
from datev_cin7_pipeline.mapping.frames import (
    BookingLineModel,
    DocumentModel,
    FrameFailure,
    booking_frame,
    document_frame,
    validate_booking_frame,
    validate_document_frame,
)
from datev_cin7_pipeline.mapping.issues import MappingIssue
from datev_cin7_pipeline.mapping.registry import (
    InMemoryPersonalAccountRegistry,
    PersonalAccountRangeExhausted,
    PersonalAccountRegistry,
)
from datev_cin7_pipeline.mapping.result import (
    BookingResult,
    DocumentRef,
    DocumentTotal,
    HeldDocument,
    HoldReason,
    totals_by_treatment,
)
from datev_cin7_pipeline.mapping.reversal import rebook, reversal_lines
from datev_cin7_pipeline.mapping.rules import (
    BookingContext,
    book_payment,
    book_purchase_credit_note,
    book_purchase_invoice,
    book_sale_credit_note,
    book_sale_invoice,
)
from datev_cin7_pipeline.mapping.starter import mapping_starter

__all__ = [
    "BookingContext",
    "BookingLineModel",
    "BookingResult",
    "DocumentModel",
    "DocumentRef",
    "DocumentTotal",
    "FrameFailure",
    "HeldDocument",
    "HoldReason",
    "InMemoryPersonalAccountRegistry",
    "MappingConfig",
    "MappingFileError",
    "MappingIssue",
    "PersonalAccountRangeExhausted",
    "PersonalAccountRegistry",
    "belegfeld1",
    "book_payment",
    "book_period",
    "book_purchase_credit_note",
    "book_purchase_invoice",
    "book_sale_credit_note",
    "book_sale_invoice",
    "booking_frame",
    "check_mapping",
    "document_frame",
    "mapping_starter",
    "parse_mapping",
    "rebook",
    "reversal_lines",
    "totals_by_treatment",
    "validate_booking_frame",
    "validate_document_frame",
]
