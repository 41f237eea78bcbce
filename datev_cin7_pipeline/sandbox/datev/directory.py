"""The sandbox user's DATEV clients as the APIs show them, and the paging the list endpoints share.

The same client looks different per API: accounting-clients lists its services with their scopes (the
pipeline checks permissions there, FACTS §5.1); accounting-documents and accounting-dxso-jobs list only
numbers and name, and show fiscal years, account length and ledgers under `GET /clients/{id}` (DATEV
returns the last three fiscal years). Paging (`skip`/`top`, at most 100, `Total-Items`, `Link`) is the
same on accounting-clients and the EXTF jobs list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from starlette.datastructures import QueryParams

from datev_cin7_pipeline.sandbox.datev.config import SERVICE_SCOPES, FiscalYear, SimClient
from datev_cin7_pipeline.sandbox.datev.jobs import BERLIN

MAX_TOP = 100


def fiscal_years(client: SimClient, today: date) -> tuple[FiscalYear, ...]:
    """The client's fiscal years, or the calendar years from two years ago up to this one."""
    if client.fiscal_years:
        return client.fiscal_years
    return tuple(FiscalYear(date(year, 1, 1), date(year, 12, 31)) for year in range(today.year - 2, today.year + 1))


def berlin_date(moment: float) -> date:
    """The calendar day in Germany at `moment` (what "this year" means for a DATEV client)."""
    return datetime.fromtimestamp(moment, BERLIN).date()


def client_summary(client: SimClient) -> dict[str, Any]:
    """`Client` of accounting-documents and accounting-dxso-jobs."""
    return {
        "client_number": client.client_number,
        "consultant_number": client.consultant_number,
        "id": client.id,
        "name": client.name,
    }


def client_with_services(client: SimClient) -> dict[str, Any]:
    """`Client` of accounting-clients: with each service and the scopes it needs."""
    services = [{"name": name, "scopes": list(SERVICE_SCOPES.get(name, ()))} for name in client.services]
    return {**client_summary(client), "services": services}


def client_basics(client: SimClient, today: date) -> dict[str, Any]:
    """`ClientBasics`: Belege online available, and the last three fiscal years with their ledgers."""
    years = sorted(fiscal_years(client, today), key=lambda year: year.start)[-3:]
    return {
        **client_summary(client),
        "is_document_management_available": client.document_management,
        "basic_accounting_information": [
            {
                "fiscal_year_start": year.start.isoformat(),
                "fiscal_year_end": year.end.isoformat(),
                "account_length": year.account_length,
                "datev_chart_of_accounts": year.chart_of_accounts,
                "ledgers": {
                    "is_accounts_payable_ledger_available": year.accounts_payable_ledger,
                    "is_accounts_receivable_ledger_available": year.accounts_receivable_ledger,
                    "is_cash_ledger_available": year.cash_ledger,
                },
            }
            for year in years
        ],
    }


class PagingError(ValueError):
    """`skip` or `top` is not a positive integer (1008828)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclass(frozen=True)
class Page:
    skip: int
    top: int

    def headers(self, total: int) -> dict[str, str]:
        """`Total-Items` and a `Link` to the previous/next page, as in the spec's example."""
        links = []
        if self.skip > 0:
            links.append(f'<?skip={max(0, self.skip - self.top)}&top={self.top}>;rel="prev"')
        if self.skip + self.top < total:
            links.append(f'<?skip={self.skip + self.top}&top={self.top}>;rel="next"')
        headers = {"Total-Items": str(total)}
        if links:
            headers["Link"] = ", ".join(links)
        return headers


def read_page(query: QueryParams) -> Page:
    """`skip` >= 0 and `top` >= 1 (more than 100 gives 100); raises PagingError naming the bad one."""
    skip = _integer(query.get("skip"), "skip", minimum=0, default=0)
    top = _integer(query.get("top"), "top", minimum=1, default=MAX_TOP)
    return Page(skip, min(top, MAX_TOP))


def _integer(raw: str | None, name: str, *, minimum: int, default: int) -> int:
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < minimum:
        raise PagingError(name)
    return int(raw)
