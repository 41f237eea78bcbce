"""The simulators print their invoices with the product's own small PDF writer."""

from datev_cin7_pipeline.pdf import simple_pdf

__all__ = ["simple_pdf"]
