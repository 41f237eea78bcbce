"""Validation against DATEV's XSDs (schema version 6.0) with lxml.

The XSDs are DATEV material and are not shipped with the connector (FACTS §9 licensing note): the
deployment points `load_schemas` at the folder that holds them (`Document_v060.xsd`,
`Document_types_v060.xsd`, `Belegverwaltung_online_ledger_import_v060.xsd`,
`Belegverwaltung_online_ledger_types_v060.xsd`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no type hints; lxml-stubs is not installed

DOCUMENT_XSD: Final = "Document_v060.xsd"
LEDGER_XSD: Final = "Belegverwaltung_online_ledger_import_v060.xsd"


@dataclass(frozen=True)
class DxsoSchemas:
    document: etree.XMLSchema
    ledger: etree.XMLSchema


def load_schemas(xsd_dir: Path) -> DxsoSchemas:
    """Compile both schemas; their imports of the type schemas resolve inside `xsd_dir`."""
    return DxsoSchemas(
        document=etree.XMLSchema(etree.parse(str(xsd_dir / DOCUMENT_XSD))),
        ledger=etree.XMLSchema(etree.parse(str(xsd_dir / LEDGER_XSD))),
    )


def schema_errors(schema: etree.XMLSchema, data: bytes) -> list[str]:
    """The XSD violations of a file, each as 'line N: message' (empty when valid)."""
    try:
        document = etree.fromstring(data)
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed XML: {exc}"]
    if schema.validate(document):
        return []
    return [f"line {error.line}: {error.message}" for error in schema.error_log]
