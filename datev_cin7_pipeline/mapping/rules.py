"""Booking rules: Cin7 invoices, credit notes and payments to DATEV Buchungsstapel rows.

Conventions (the same for every kind of document):

- **Konto / Gegenkonto.** `account` (Konto) is the G/L account of the movement: revenue, goods or
  expense account, bank, rounding account. `contra_account` (Gegenkonto) is always the open-item account
  of the document: the customer's debtor or the supplier's creditor. S/H is relative to Konto (FACTS §6.4
  field 2), as in DATEV's own sample (`8400` "H", Gegenkonto debtor). So a sale invoice is revenue "H",
  its credit note revenue "S"; a supplier invoice is expense "S", its credit note "H"; a customer
  payment is bank "S", a refund to the customer bank "H"; a supplier payment bank "H", a supplier refund
  bank "S". A group that is negative in Cin7 (a negative line) flips its side; amounts are always > 0.
- **Gross per (account, tax treatment).** Lines and additional charges are summed per DATEV account, tax
  treatment and BU key, gross (DATEV takes the VAT out of the gross amount on an automatic account or
  with a BU key: FACTS §6.4 field 1, ANCHORS §5.7). An automatic account never gets a BU key (FACTS §7.2).
- **Rounding.** Per line (Cin7 "Row Total", /me `TaxCalculationMethod`): each line's tax is rounded to
  cents before it is added; per document ("Total"): the group's unrounded sum is rounded once. Whatever
  is left between the groups and Cin7's document `Total` goes to the rounding account on its own line
  ("Rundungsdifferenz …"), so the document's lines add up to its Cin7 total to the cent. A difference
  larger than `rounding.tolerance` is not rounding: the document is held.
- **Belegfeld 1** is the open-item key: the invoice number (a supplier's invoice number, or the purchase
  order number when the supplier number is empty). A credit note carries the number of the invoice it
  credits, with its own number in the Beleginfo "Cin7 Gutschrift" (Belegfeld 2 is left free for DATEV's
  OPOS use); a payment carries the invoice it pays, a refund the invoice its credit note credited. The
  Cin7 original is always in the Beleginfo "Cin7 Rechnung" (`fields.belegfeld1` for the transformation).
- **Foreign currency.** `amount` is in the document currency (`WKZ Umsatz`), `base_amount` in the DATEV
  client's currency (Basis-Umsatz = amount × base units per foreign unit, rounded half up to cents),
  `exchange_rate` is DATEV's Kurs in quantity notation (Mengennotierung): foreign units per 1 EUR, the
  way the Euro reference rates in DATEV's rate table are quoted (DATEV Hilfe-Center docs 1032234, 1015760)
  and the only reading under which DATEV's Kurs pattern `[1-9]\\d{0,3},\\d{2,6}` (FACTS §6.4 field 4) fits
  the common currencies (USD 1.08, JPY 160); UNCONFIRMED for currencies stronger than the euro (CHF, GBP
  give a Kurs below 1). Cin7's rate direction is the mapping's `currency_rates.direction`.
- **Held documents.** A document with any gap produces no line at all and is returned with every reason.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from datev_cin7_pipeline.cin7.models import (
    Company,
    Customer,
    DocumentLine,
    Purchase,
    PurchaseCreditNote,
    PurchaseInvoice,
    Sale,
    SaleCreditNote,
    SaleInvoice,
    Supplier,
    TaxRule,
)
from datev_cin7_pipeline.cin7.period import Cin7Period
from datev_cin7_pipeline.datev.bookings import BookingLine, Side
from datev_cin7_pipeline.mapping import issues as codes
from datev_cin7_pipeline.mapping.config import (
    SELF_ASSESSED,
    TAX_ON_INVOICE,
    TODO,
    AutomaticAccount,
    CostCentreRule,
    MappingConfig,
    TaxKind,
    TaxRuleMapping,
    cin7_key,
)
from datev_cin7_pipeline.mapping.config import Side as DocumentSide
from datev_cin7_pipeline.mapping.documents import (
    Parent,
    SourceDocument,
    SourcePayment,
    iter_period_documents,
    period_parents,
    purchase_credit_note_document,
    purchase_invoice_document,
    sale_credit_note_document,
    sale_invoice_document,
    source_payment,
)
from datev_cin7_pipeline.mapping.fields import (
    ISO_4217_CURRENCIES,
    MAX_AMOUNT,
    MAX_RATE,
    RATE_STEP,
    belegfeld1,
    booking_text,
    cents,
    eu_vat_id_problem,
    has_cents_only,
    info,
    normalize_vat_id,
)
from datev_cin7_pipeline.mapping.registry import PartyKind, PersonalAccountRangeExhausted, PersonalAccountRegistry
from datev_cin7_pipeline.mapping.result import (
    BookingResult,
    DocumentRef,
    DocumentStatus,
    DocumentTotal,
    HeldDocument,
    HoldReason,
    open_item_movement,
)

ROUNDING_TREATMENT = "Rundung"
TAX_TOLERANCE = Decimal("0.01")  # Cin7's line tax vs the treatment's rate: one cent of rounding
_NORMAL_SIDE: dict[str, Side] = {
    "sale_invoice": "H",
    "sale_credit_note": "S",
    "purchase_invoice": "S",
    "purchase_credit_note": "H",
    "customer_payment": "S",
    "customer_prepayment": "S",
    "customer_refund": "H",
    "supplier_payment": "H",
    "supplier_prepayment": "H",
    "supplier_refund": "S",
}
_TEXT_PREFIX = {
    "sale_credit_note": "Gutschrift",
    "purchase_credit_note": "Gutschrift",
    "customer_payment": "Zahlung",
    "customer_refund": "Erstattung",
    "supplier_payment": "Zahlung",
    "supplier_refund": "Erstattung",
}


@dataclass(frozen=True)
class BookingContext:
    """Everything the rules need besides the document: the mapping and the period's master data."""

    mapping: MappingConfig
    registry: PersonalAccountRegistry
    period_start: dt.date | None = None
    period_end: dt.date | None = None  # exclusive
    company: Company | None = None
    customers: Mapping[str, Customer] | None = None
    suppliers: Mapping[str, Supplier] | None = None
    tax_rules: Mapping[str, TaxRule] | None = None
    guids: Mapping[str, str] | None = None
    automatic: Mapping[int, AutomaticAccount] | None = None
    # What plan_line decides per (Cin7 account, tax rule, side): the same few pairs recur on every line.
    _decisions: dict[tuple[str, str, DocumentSide], _LineDecision] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def for_period(
        cls,
        period: Cin7Period,
        mapping: MappingConfig,
        registry: PersonalAccountRegistry,
        guids: Mapping[str, str] | None = None,
    ) -> BookingContext:
        return cls(
            mapping=mapping,
            registry=registry,
            period_start=period.start,
            period_end=period.end,
            company=period.company,
            customers=period.customers,
            suppliers=period.suppliers,
            tax_rules=period.tax_rules,
            guids=guids or {},
            automatic=mapping.automatic(),
        )

    @property
    def automatic_accounts(self) -> Mapping[int, AutomaticAccount]:
        return self.automatic if self.automatic is not None else self.mapping.automatic()

    @functools.cached_property  # asked for every line
    def rounds_tax_per_line(self) -> bool:
        return self.company.rounds_tax_per_line if self.company else True


# --- shared pieces --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversion:
    """A document currency against the client's base currency; `base_per_unit` None means no conversion."""

    currency: str
    base_currency: str
    base_per_unit: Decimal | None

    def base(self, amount: Decimal) -> Decimal | None:
        return None if self.base_per_unit is None else cents(amount * self.base_per_unit)

    @property
    def kurs(self) -> Decimal | None:
        """DATEV's Kurs: foreign units per base unit (Mengennotierung), 6 decimals (FACTS §6.4 field 4)."""
        if self.base_per_unit is None:
            return None
        return (Decimal(1) / self.base_per_unit).quantize(RATE_STEP, rounding=ROUND_HALF_UP)


def conversion(
    currency: str, base_currency: str, rate: Decimal | None, ctx: BookingContext
) -> Conversion | list[HoldReason]:
    """How amounts in `currency` become the DATEV client's currency, or why they cannot."""
    client_currency = ctx.mapping.datev.currency
    reasons: list[HoldReason] = []
    if base_currency and base_currency != client_currency:
        reasons.append(
            HoldReason(
                codes.CURRENCY_MISMATCH,
                f"Cin7's base currency is {base_currency}, the DATEV client's is {client_currency}",
            )
        )
    if not currency:
        reasons.append(HoldReason(codes.UNKNOWN_CURRENCY, "neither the document nor the party names a currency"))
    elif currency not in ISO_4217_CURRENCIES:
        reasons.append(HoldReason(codes.UNKNOWN_CURRENCY, _not_iso_currency(currency)))
    if reasons:
        return reasons
    if currency == client_currency:
        return Conversion(currency, client_currency, None)
    if rate is None or rate <= 0:
        return [HoldReason(codes.MISSING_RATE, f"{currency} amount without a Cin7 CurrencyRate")]
    per_unit = rate if ctx.mapping.currency_rates.direction == "base_per_foreign" else Decimal(1) / rate
    converted = Conversion(currency, client_currency, per_unit)
    kurs = converted.kurs
    if kurs is not None and not Decimal(0) < kurs <= MAX_RATE:
        # The blocking schema check would refuse the row and stop the whole period instead.
        message = f"Cin7 CurrencyRate {rate} gives a Kurs of {kurs}; DATEV's Kurs takes 0.000001 to {MAX_RATE}"
        return [HoldReason(codes.RATE_OUT_OF_RANGE, message)]
    return converted


def _not_iso_currency(currency: str) -> str:
    """Why `currency` is no WKZ; a code in the wrong case is named, never fixed silently (it is Cin7 data)."""
    message = f"the currency {currency!r} is not an ISO 4217 currency code"
    if currency.upper() in ISO_4217_CURRENCIES:
        message += f" (ISO codes are upper case: {currency.upper()!r})"
    return message


def amount_limits(amount: Decimal, converted: Conversion | None, where: str = "") -> list[HoldReason]:
    """Holds for a row amount (> 0) that DATEV's Umsatz or Basis-Umsatz cannot take (at most 10 digits before
    the decimal comma): the blocking schema check would otherwise refuse the row and stop the whole period."""
    reasons: list[HoldReason] = []
    if amount > MAX_AMOUNT:
        reasons.append(_too_large("the amount", amount, where, "Umsatz"))
    base = converted.base(amount) if converted is not None else None
    if converted is not None and base is not None and base > MAX_AMOUNT:
        reasons.append(_too_large(f"the {converted.base_currency} amount", base, where, "Basis-Umsatz"))
    return reasons


def _too_large(what: str, amount: Decimal, where: str, field_name: str) -> HoldReason:
    return HoldReason(
        codes.AMOUNT_TOO_LARGE,
        f"{what} {amount}{where} has more than 10 digits before the decimal comma: "
        f"DATEV's {field_name} takes at most {MAX_AMOUNT}",
    )


def check_date(day: dt.date | None, ctx: BookingContext, what: str) -> list[HoldReason]:
    if day is None:
        return [HoldReason(codes.MISSING_DATE, f"the {what} has no date")]
    if (ctx.period_start is not None and day < ctx.period_start) or (
        ctx.period_end is not None and day >= ctx.period_end
    ):
        return [
            HoldReason(
                codes.DATE_OUTSIDE_PERIOD,
                f"dated {day.isoformat()}, outside {ctx.period_start}–{ctx.period_end} (end exclusive)",
            )
        ]
    return []


def party_account(
    kind: PartyKind, party_id: str | None, ctx: BookingContext, *, assign: bool
) -> int | list[HoldReason]:
    """The debtor/creditor number: the collective account, or the party's own (assigned on first use)."""
    settings = ctx.mapping.debtors if kind == "debtor" else ctx.mapping.creditors
    if settings.mode == "collective" and settings.collective_account is not None:
        return settings.collective_account
    if not party_id:
        return [HoldReason(codes.UNKNOWN_PARTY, f"no Cin7 {'customer' if kind == 'debtor' else 'supplier'} id")]
    if not assign:
        return 0
    try:
        return ctx.registry.account_for(kind, party_id, settings.first, settings.last)
    except PersonalAccountRangeExhausted as exc:
        return [HoldReason(codes.PERSONAL_RANGE_EXHAUSTED, str(exc))]


def document_link(kind: str, source_id: str, ctx: BookingContext) -> str:
    """`BEDI "<guid>"` for an uploaded document (FACTS §6.4 field 20); keyed `kind:task` or `task`."""
    guids = ctx.guids or {}
    guid = guids.get(f"{kind}:{source_id}") or guids.get(source_id)
    return f'BEDI "{guid}"' if guid else ""


def _opposite(side: Side) -> Side:
    return "H" if side == "S" else "S"


# --- invoices and credit notes --------------------------------------------------------------------


class _PlannedLine(NamedTuple):  # one per Cin7 line: a tuple is quicker to make than a frozen dataclass
    account: int
    tax_key: str
    treatment: str
    kind: TaxKind
    gross: Decimal


def _line_account(doc: SourceDocument, line: DocumentLine, ctx: BookingContext) -> int | HoldReason:
    code = cin7_key(line.account or doc.default_account)
    if not code:
        return HoldReason(codes.MISSING_ACCOUNT, f"line {line.label!r} has no Cin7 account")
    mapped = ctx.mapping.accounts.get(code)
    if mapped is None or mapped == TODO:
        state = "is TODO" if mapped == TODO else "has no DATEV account"
        return HoldReason(codes.UNMAPPED_ACCOUNT, f"Cin7 account {code!r} {state} (mapping accounts)")
    return mapped


def _line_gross(doc: SourceDocument, line: DocumentLine, per_line: bool) -> Decimal:
    """The line's gross in the document currency; per-line rounding rounds tax (and total) first."""
    total, tax = (cents(line.total), cents(line.tax)) if per_line else (line.total, line.tax)
    return total if doc.inclusive else total + tax


def _tax_problem(doc: SourceDocument, line: DocumentLine, kind: str, rate: Decimal) -> str | None:
    """Cross-check Cin7's own tax decision against the mapped treatment (as jtl2datev does)."""
    net = line.total - line.tax if doc.inclusive else line.total
    expected = net * rate / 100 if kind in TAX_ON_INVOICE else Decimal(0)
    if abs(line.tax - expected) <= TAX_TOLERANCE:
        return None
    return (
        f"line {line.label!r} ({line.tax_rule}): Cin7 tax {line.tax} but the mapped treatment "
        f"({kind} {rate} %) expects {cents(expected)}"
    )


def plan_line(doc: SourceDocument, line: DocumentLine, ctx: BookingContext) -> _PlannedLine | list[HoldReason]:
    """Which DATEV account, key and treatment one Cin7 line gets; every reason it cannot be booked."""
    side = doc.side
    code = line.account or doc.default_account
    rule_name = line.tax_rule or doc.header_tax_rule
    key = (code, rule_name, side)
    decision = ctx._decisions.get(key) if code else None  # without a code the reason names the line: not shared
    if decision is None:
        decision = _decide(doc, line, side, rule_name, ctx)
        if code:
            ctx._decisions[key] = decision
    if decision.rule is None:
        return list(decision.before)
    reasons = list(decision.before)
    problem = _tax_problem(doc, line, decision.rule.kind, decision.rule.rate)
    if problem:
        reasons.append(HoldReason(codes.TAX_AMOUNT_MISMATCH, problem))
    reasons.extend(decision.after)
    if reasons or decision.planned is None:
        return reasons
    account, tax_key, treatment, kind = decision.planned
    return _PlannedLine(account, tax_key, treatment, kind, _line_gross(doc, line, ctx.rounds_tax_per_line))


@dataclass(frozen=True)
class _LineDecision:
    """plan_line's outcome for one (Cin7 account, tax rule, side), apart from the line's own tax amount.

    `before` are the reasons found before the tax amount is checked and `after` those found after it (the
    order of a held document's reasons stays as it was); `rule` None: the rule is unmapped, `before` is all.
    """

    before: tuple[HoldReason, ...]
    rule: TaxRuleMapping | None
    after: tuple[HoldReason, ...] = ()
    planned: tuple[int, str, str, TaxKind] | None = None  # account, tax key, treatment, kind


def _decide(
    doc: SourceDocument, line: DocumentLine, side: DocumentSide, rule_name: str, ctx: BookingContext
) -> _LineDecision:
    before: list[HoldReason] = []
    mapped = _line_account(doc, line, ctx)
    if isinstance(mapped, HoldReason):
        before.append(mapped)
    rule_name = cin7_key(rule_name)  # here, not in plan_line: once per cached decision, not per line
    rule = ctx.mapping.tax_rules.get(rule_name)
    if rule is None or rule.kind == TODO:
        state = "is TODO" if rule is not None else "has no tax treatment"
        unmapped = HoldReason(codes.UNMAPPED_TAX_RULE, f"Cin7 tax rule {rule_name!r} {state}")
        return _LineDecision((*before, unmapped), None)
    if side not in rule.sides:
        before.append(
            HoldReason(codes.TAX_RULE_WRONG_SIDE, f"tax rule {rule_name!r} is mapped for {rule.sides}, not {side}")
        )
    if isinstance(mapped, HoldReason):
        return _LineDecision(tuple(before), rule)
    settings = rule.for_side(side)
    account = settings.account if settings.account is not None else settings.redirect.get(mapped, mapped)
    if account == TODO:
        message = f"the account of tax rule {rule_name!r} is TODO"
        return _LineDecision(tuple(before), rule, (HoldReason(codes.UNMAPPED_ACCOUNT, message),))
    after: list[HoldReason] = []
    tax_key = _tax_key(account, rule.kind, rule.rate, settings.bu_key, rule_name, ctx, after)
    planned = (account, tax_key, ctx.mapping.treatment_name(rule_name), rule.kind)
    return _LineDecision(tuple(before), rule, tuple(after), planned)


def _tax_key(
    account: int,
    kind: TaxKind,
    rate: Decimal,
    bu_key: str,
    rule_name: str,
    ctx: BookingContext,
    reasons: list[HoldReason],
) -> str:
    """The BU key for `account`: none on an automatic account (which must compute this very case),
    the rule's key on a plain one (which must have one if DATEV is to book any VAT)."""
    automatic = ctx.automatic_accounts.get(account)
    if automatic is not None:
        if automatic.kind != kind or automatic.rate != rate:
            reasons.append(
                HoldReason(
                    codes.AUTOMATIC_ACCOUNT_CONFLICT,
                    f"automatic account {account} computes {automatic.kind} {automatic.rate} %, "
                    f"but tax rule {rule_name!r} is {kind} {rate} %",
                )
            )
        return ""
    needs_tax = kind in SELF_ASSESSED or (kind in TAX_ON_INVOICE and rate > 0)
    if needs_tax and not bu_key:
        reasons.append(
            HoldReason(
                codes.NO_TAX_MECHANISM,
                f"account {account} is not automatic and tax rule {rule_name!r} has no BU key: the VAT would be lost",
            )
        )
    return bu_key


def cost_centre(rule: CostCentreRule | None, doc: SourceDocument) -> str | HoldReason:
    """KOST1/KOST2 from the document's location, sales representative or an additional attribute."""
    if rule is None:
        return ""
    if rule.source == "sales_representative" and doc.side == "purchase":
        return ""  # purchases have no sales representative
    value = {
        "location": doc.location,
        "sales_representative": doc.sales_representative,
        "attribute": doc.attributes.get(rule.attribute, ""),
    }[rule.source]
    value = cin7_key(value)
    mapped = rule.values.get(value)
    if mapped is not None and mapped != TODO:
        return mapped
    if rule.on_missing == "empty" and mapped is None:
        return ""
    what = rule.attribute if rule.source == "attribute" else rule.source
    state = "is TODO" if mapped == TODO else "has no cost centre"
    return HoldReason(codes.UNMAPPED_COST_CENTRE, f"{what} {value!r} {state}")


def _vat_id(doc: SourceDocument, ctx: BookingContext) -> str | HoldReason:
    customer = (ctx.customers or {}).get(doc.party_id or "")
    vat_id = normalize_vat_id(customer.tax_number if customer else "")
    problem = eu_vat_id_problem(vat_id)
    if problem is None:
        return vat_id
    return HoldReason(codes.MISSING_VAT_ID if not vat_id else codes.INVALID_VAT_ID, f"intra-EU supply: {problem}")


def _document_text(doc: SourceDocument) -> str:
    own = doc.number or doc.open_item_number
    if doc.is_credit:
        return booking_text("Gutschrift", own, "zu", doc.open_item_number, doc.party_name)
    return booking_text(own, doc.party_name)


def _document_infos(doc: SourceDocument) -> tuple[tuple[str, str], ...]:
    infos = [info("Cin7 Rechnung", doc.open_item_number)]
    if doc.is_credit:
        infos.append(info("Cin7 Gutschrift", doc.number))
    if doc.order_number:
        infos.append(info("Cin7 Auftrag", doc.order_number))
    return tuple(infos)


def _document_ref(doc: SourceDocument) -> DocumentRef:
    return DocumentRef(doc.kind, doc.task_id, doc.parent_id, doc.number or doc.open_item_number, doc.version)


def signed_total(kind: str, amount: Decimal) -> Decimal:
    """A Cin7 total as it moves the open-item account (debit positive); see `DocumentTotal`."""
    return -amount if _NORMAL_SIDE[kind] == "S" else amount


def _held(ref: DocumentRef, reasons: Sequence[HoldReason], currency: str, total: Decimal) -> BookingResult:
    unique = tuple(dict.fromkeys(reasons))
    return BookingResult(
        held=[HeldDocument(ref, unique)],
        documents=[DocumentTotal(ref, "held", currency, signed_total(ref.kind, total), Decimal(0))],
    )


def _groups(planned: Sequence[_PlannedLine], per_line: bool) -> dict[tuple[int, str, str, str], Decimal]:
    groups: dict[tuple[int, str, str, str], Decimal] = {}
    for line in planned:
        key = (line.account, line.tax_key, line.treatment, line.kind)
        groups[key] = groups.get(key, Decimal(0)) + line.gross
    return {key: (amount if per_line else cents(amount)) for key, amount in groups.items()}


@dataclass
class _DocumentPlan:
    """What booking one document needs, gathered before anything is assigned or written."""

    reasons: list[HoldReason]
    converted: Conversion | None = None
    groups: dict[tuple[int, str, str, str], Decimal] | None = None
    difference: Decimal = Decimal(0)
    vat_id: str = ""
    kost: tuple[str, str] = ("", "")


def _header_reasons(doc: SourceDocument, ctx: BookingContext) -> list[HoldReason]:
    reasons = check_date(doc.date, ctx, doc.kind.replace("_", " "))
    if not doc.open_item_number:
        reasons.append(HoldReason(codes.MISSING_NUMBER, "no invoice number to key the open item (Belegfeld 1)"))
    if not has_cents_only(doc.total):
        reasons.append(HoldReason(codes.AMOUNT_PRECISION, f"the Cin7 total {doc.total} has more than 2 decimals"))
    return reasons


def _plan_lines(doc: SourceDocument, ctx: BookingContext, plan: _DocumentPlan) -> list[_PlannedLine]:
    planned: list[_PlannedLine] = []
    for line in doc.lines:
        result = plan_line(doc, line, ctx)
        if isinstance(result, list):
            plan.reasons.extend(result)
        else:
            planned.append(result)
    return planned


def _plan_totals(doc: SourceDocument, ctx: BookingContext, planned: list[_PlannedLine], plan: _DocumentPlan) -> None:
    """Group the lines and find the rounding difference against Cin7's total (held if it is not rounding)."""
    plan.groups = _groups(planned, ctx.rounds_tax_per_line)
    booked = sum(plan.groups.values(), Decimal(0))
    plan.difference = doc.total - booked
    if len(planned) < len(doc.lines):
        return  # the lines that could not be planned are reasons already; their sum means nothing
    if abs(plan.difference) > ctx.mapping.rounding.tolerance:
        message = f"the lines come to {booked}, the Cin7 total is {doc.total}"
        plan.reasons.append(HoldReason(codes.TOTALS_MISMATCH, message))
    elif plan.difference and ctx.mapping.rounding.account == TODO:
        plan.reasons.append(HoldReason(codes.TODO_VALUE, "rounding.account is TODO and the document needs it"))


def plan_document(doc: SourceDocument, ctx: BookingContext) -> _DocumentPlan:
    """Every reason `doc` cannot be booked, or everything needed to book it."""
    plan = _DocumentPlan(_header_reasons(doc, ctx))
    converted = conversion(doc.currency, doc.base_currency, doc.rate, ctx)
    if isinstance(converted, list):
        plan.reasons.extend(converted)
    else:
        plan.converted = converted
    planned = _plan_lines(doc, ctx, plan)
    if any(line.kind == "intra_eu_supply" for line in planned):
        checked = _vat_id(doc, ctx)
        if isinstance(checked, HoldReason):
            plan.reasons.append(checked)
        else:
            plan.vat_id = checked
    kost1, kost2 = cost_centre(ctx.mapping.cost_centres.kost1, doc), cost_centre(ctx.mapping.cost_centres.kost2, doc)
    plan.reasons.extend(value for value in (kost1, kost2) if isinstance(value, HoldReason))
    plan.kost = (kost1 if isinstance(kost1, str) else "", kost2 if isinstance(kost2, str) else "")
    _plan_totals(doc, ctx, planned, plan)
    if len(planned) == len(doc.lines) and plan.groups is not None:  # a partial plan's sums mean nothing
        foreign = plan.converted is not None and plan.converted.base_per_unit is not None
        for (account, *_), amount in plan.groups.items():
            if foreign or abs(amount) > MAX_AMOUNT:  # the common case needs no call
                plan.reasons.extend(amount_limits(cents(abs(amount)), plan.converted, f" on account {account}"))
    party = party_account(_party_kind(doc.side), doc.party_id, ctx, assign=False)
    if isinstance(party, list):
        plan.reasons.extend(party)
    return plan


def _party_kind(side: str) -> PartyKind:
    return "debtor" if side == "sale" else "creditor"


def book_document(doc: SourceDocument, ctx: BookingContext) -> BookingResult:
    """The booking lines of one invoice or credit note, or the document held with every reason."""
    ref = _document_ref(doc)
    plan = plan_document(doc, ctx)
    if plan.reasons or plan.converted is None or plan.groups is None:
        return _held(ref, plan.reasons, doc.currency, doc.total)
    party = party_account(_party_kind(doc.side), doc.party_id, ctx, assign=True)
    if isinstance(party, list):
        return _held(ref, party, doc.currency, doc.total)
    groups = dict(plan.groups)
    rounding_account = ctx.mapping.rounding.account
    if plan.difference and rounding_account != TODO:
        groups[(rounding_account, "", ROUNDING_TREATMENT, "rounding")] = plan.difference
    template = _template(doc, ctx, party, plan.converted, *plan.kost)
    text = _document_text(doc)
    own_number = doc.number or doc.open_item_number
    lines = [
        _group_line(template, text, doc, key, amount, plan.converted, plan.vat_id, own_number)
        for key, amount in groups.items()
        if amount
    ]
    status: DocumentStatus = "booked" if lines else "empty"
    booked = sum((open_item_movement(line) for line in lines), Decimal(0))
    total = DocumentTotal(ref, status, doc.currency, signed_total(doc.kind, doc.total), booked)
    return BookingResult(lines=lines, documents=[total])


def _template(
    doc: SourceDocument, ctx: BookingContext, party: int, converted: Conversion, kost1: str, kost2: str
) -> dict[str, Any]:
    """The fields every line of the document shares (not dataclasses.replace of a template line: that
    walks all fields per line, a good part of booking a large period)."""
    assert doc.date is not None  # checked before
    return {
        "contra_account": party,
        "document_date": doc.date,
        "document_field_1": belegfeld1(doc.open_item_number),
        "currency": converted.currency,
        "exchange_rate": converted.kurs,
        "base_currency": converted.base_currency if converted.base_per_unit is not None else "",
        "document_link": document_link(doc.kind, doc.task_id, ctx),
        "document_infos": _document_infos(doc),
        "cost_centre_1": kost1,
        "cost_centre_2": kost2,
        "supply_date": doc.date,
        "due_date": doc.due_date,
        "source_kind": doc.kind,
        "source_id": doc.task_id,
        "source_version": doc.version,
    }


def _group_line(
    template: dict[str, Any],
    text: str,
    doc: SourceDocument,
    key: tuple[int, str, str, str],
    amount: Decimal,
    converted: Conversion,
    vat_id: str,
    own_number: str,
) -> BookingLine:
    account, tax_key, treatment, kind = key
    normal = _NORMAL_SIDE[doc.kind]
    rounded = cents(abs(amount))
    return BookingLine(
        **template,
        amount=rounded,
        side=normal if amount > 0 else _opposite(normal),
        account=account,
        tax_key=tax_key,
        text=booking_text("Rundungsdifferenz", own_number) if kind == "rounding" else text,
        base_amount=converted.base(rounded),
        eu_vat_id=vat_id if kind == "intra_eu_supply" else "",
        tax_treatment=treatment,
    )


# --- payments -------------------------------------------------------------------------------------


def _payment_reasons(payment: SourcePayment, ctx: BookingContext) -> list[HoldReason]:
    reasons = check_date(payment.date, ctx, "payment")
    if payment.amount < 0:
        reasons.append(HoldReason(codes.INVALID_AMOUNT, f"negative payment amount {payment.amount}"))
    if not has_cents_only(payment.amount):
        reasons.append(HoldReason(codes.AMOUNT_PRECISION, f"payment amount {payment.amount} has more than 2 decimals"))
    if not payment.open_item_number:
        reasons.append(HoldReason(codes.MISSING_NUMBER, "the payment names no invoice or credit note"))
    party = party_account(_party_kind(payment.side), payment.party_id, ctx, assign=False)
    if isinstance(party, list):
        reasons.extend(party)
    return reasons


def _bank_account(payment: SourcePayment, ctx: BookingContext) -> int | HoldReason:
    code = cin7_key(payment.account)
    bank = ctx.mapping.payment_accounts.get(code)
    if bank is None or bank == TODO:
        state = "is TODO" if bank == TODO else "has no DATEV account"
        return HoldReason(codes.UNMAPPED_PAYMENT_ACCOUNT, f"Cin7 bank account {code!r} {state}")
    return bank


def book_payment(payment: SourcePayment, ctx: BookingContext) -> BookingResult:
    """A payment or refund: bank/cash against the debtor or creditor, Belegfeld 1 = the invoice it clears."""
    ref = DocumentRef(payment.kind, payment.payment_id, payment.parent_id, payment.number, payment.version)
    if payment.kind.endswith("prepayment"):
        message = "prepayments (Anzahlungen) need down-payment accounts; book by hand"
        return _held(ref, [HoldReason(codes.PREPAYMENT_NOT_SUPPORTED, message)], payment.currency, payment.amount)
    reasons = _payment_reasons(payment, ctx)
    bank = _bank_account(payment, ctx)
    converted = conversion(payment.currency, payment.base_currency, payment.rate, ctx)
    if not isinstance(converted, list):
        reasons.extend(amount_limits(abs(payment.amount), converted))
    if isinstance(bank, HoldReason) or isinstance(converted, list) or reasons:
        found = [*([bank] if isinstance(bank, HoldReason) else []), *(converted if isinstance(converted, list) else [])]
        return _held(ref, [*reasons, *found], payment.currency, payment.amount)
    party = party_account(_party_kind(payment.side), payment.party_id, ctx, assign=True)
    if isinstance(party, list):
        return _held(ref, party, payment.currency, payment.amount)
    total = signed_total(payment.kind, payment.amount)
    if payment.amount == 0:
        return BookingResult(documents=[DocumentTotal(ref, "empty", payment.currency, total, Decimal(0))])
    line = _payment_line(payment, ctx, bank, party, converted)
    booked = DocumentTotal(ref, "booked", payment.currency, total, open_item_movement(line))
    return BookingResult(lines=[line], documents=[booked])


def _payment_line(
    payment: SourcePayment, ctx: BookingContext, bank: int, party: int, converted: Conversion
) -> BookingLine:
    assert payment.date is not None  # checked before
    infos = [info("Cin7 Rechnung", payment.open_item_number)]
    if payment.number and payment.number != payment.open_item_number:
        infos.append(info("Cin7 Gutschrift", payment.number))
    if payment.reference:
        infos.append(info("Cin7 Referenz", payment.reference))
    if payment.order_number:
        infos.append(info("Cin7 Auftrag", payment.order_number))
    return BookingLine(
        amount=payment.amount,
        side=_NORMAL_SIDE[payment.kind],
        account=bank,
        contra_account=party,
        document_date=payment.date,
        document_field_1=belegfeld1(payment.open_item_number),
        text=booking_text(_TEXT_PREFIX[payment.kind], payment.number, payment.party_name),
        currency=converted.currency,
        exchange_rate=converted.kurs,
        base_amount=converted.base(payment.amount),
        base_currency=converted.base_currency if converted.base_per_unit is not None else "",
        cash_discount=payment.cash_discount,
        document_infos=tuple(infos),
        source_kind=payment.kind,
        source_id=payment.payment_id,
        source_version=payment.version,
    )


# --- per document, from Cin7 models ---------------------------------------------------------------


def book_sale_invoice(sale: Sale, invoice: SaleInvoice, ctx: BookingContext) -> BookingResult:
    return book_document(sale_invoice_document(sale, invoice, ctx.company, ctx.tax_rules or {}), ctx)


def book_sale_credit_note(sale: Sale, note: SaleCreditNote, ctx: BookingContext) -> BookingResult:
    return book_document(sale_credit_note_document(sale, note, ctx.company, ctx.tax_rules or {}), ctx)


def book_purchase_invoice(purchase: Purchase, invoice: PurchaseInvoice, ctx: BookingContext) -> BookingResult:
    return book_document(purchase_invoice_document(purchase, invoice, ctx.company, ctx.tax_rules or {}), ctx)


def book_purchase_credit_note(purchase: Purchase, note: PurchaseCreditNote, ctx: BookingContext) -> BookingResult:
    return book_document(purchase_credit_note_document(purchase, note, ctx.company, ctx.tax_rules or {}), ctx)


def period_payments(period: Cin7Period, ctx: BookingContext, parents: Mapping[str, Parent]) -> list[SourcePayment]:
    """The period's payments with currency and open item resolved through their sale or purchase."""
    return list(_iter_period_payments(period, ctx, parents))


def _iter_period_payments(
    period: Cin7Period, ctx: BookingContext, parents: Mapping[str, Parent]
) -> Iterator[SourcePayment]:
    parties: dict[str, Customer | Supplier] = {**(ctx.customers or {}), **(ctx.suppliers or {})}
    discount = ctx.mapping.cash_discount
    percent = discount.max_percent if discount.enabled else None
    for payment in period.payments:
        yield source_payment(
            payment, parents.get(payment.parent_id), ctx.company, parties, cash_discount_percent=percent
        )


def book_documents(
    documents: Iterable[SourceDocument], payments: Iterable[SourcePayment], ctx: BookingContext
) -> BookingResult:
    result = BookingResult()
    for doc in documents:
        result.extend(book_document(doc, ctx))
    for payment in payments:
        result.extend(book_payment(payment, ctx))
    return result


def book_period_documents(
    period: Cin7Period,
    mapping: MappingConfig,
    accounts: PersonalAccountRegistry,
    *,
    guids: Mapping[str, str] | None = None,
    parents: Mapping[str, Parent] | None = None,
) -> BookingResult:
    """Every bookable document and payment of the period as it is now (no reversals; see `book_period`)."""
    ctx = BookingContext.for_period(period, mapping, accounts, guids)
    known = {**period_parents(period), **(parents or {})}
    # One source document at a time: those of a large period need not all exist at once (peak memory).
    return book_documents(iter_period_documents(period), _iter_period_payments(period, ctx, known), ctx)
