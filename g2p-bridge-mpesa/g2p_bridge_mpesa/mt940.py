"""MT940 statements in the shape G2P Bridge 1.1.0's ``mt940_processor`` reads (with the ``mt-940``
library): ``:25:`` the program's sponsor bank account number, ``:28C:`` the statement number,
one ``:61:`` line per movement (``D`` a payment, ``RD`` its reversal when M-Pesa failed it or it was
refused), the disbursement id as the customer reference (after ``NTRF``, before ``//``), a unique
bank reference after ``//`` (the M-Pesa receipt of a payment), and ``:86:`` narratives read back by
:func:`beneficiary_name` and :func:`reversal_reason`.

Standard library only: the connector, its tests and anyone's tooling can write and read these.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

LINE = 65  # the width of an MT940 narrative line
MAX_NARRATIVE_LINES = 6
REFERENCE = 16  # :61: customer and :20: references

# What :86: lines start with (the connector's own narrative convention).
PAYMENT = "MPESA B2C"
NAME = "NAME "
REASON = "REASON "
DISBURSEMENT = "DISB "


class StatementError(ValueError):
    """A line that cannot be written without breaking the bridge's reading of it."""


@dataclass(frozen=True)
class Entry:
    """One :61: line and its :86: narrative."""

    mark: str  # "D" payment, "RD" reversal of a payment
    amount: Decimal
    value_date: date
    disbursement_id: str
    bank_reference: str
    narrative: tuple[str, ...] = field(default=())


def amount_text(amount: Decimal) -> str:
    """15d with a decimal comma: 1500 -> '1500,00'."""
    amount = Decimal(amount)
    if amount < 0:
        raise StatementError("MT940 amounts are unsigned (the mark says debit or credit)")
    return f"{amount:.2f}".replace(".", ",")


def _clean(text: str) -> str:
    # The SWIFT X character set, more or less: no colon at a line start, no newline, no "//".
    text = re.sub(r"[\r\n]+", " ", text or "")
    return re.sub(r"[^A-Za-z0-9/\-?().,'+ _]", " ", text).replace("//", "/ ").strip()


def wrap(text: str, width: int = LINE) -> list[str]:
    return textwrap.wrap(_clean(text), width, break_on_hyphens=False)


def payment_entry(disbursement_id: str, amount: Decimal, value_date: date, receipt: str, name: str | None):
    """A payment M-Pesa made: D, the receipt as the bank reference, the receiver's name as M-Pesa
    gave it."""
    narrative = [f"{PAYMENT} {receipt}"]
    if name:
        narrative.append((NAME + _clean(name))[:LINE])
    return [_entry("D", amount, value_date, disbursement_id, receipt, narrative)]


def failure_entries(
    disbursement_id: str, amount: Decimal, value_date: date, reference: str, reason: str
) -> list[Entry]:
    """A payment M-Pesa failed, or that was refused before sending: D and RD with the reason."""
    debit = [f"{PAYMENT} {reference}"]
    reversal = [f"{PAYMENT} FAILED {reference}"]
    reason_lines = wrap(REASON + (reason or "no reason given"))[: MAX_NARRATIVE_LINES - 2]
    return [
        _entry("D", amount, value_date, disbursement_id, reference, debit),
        _entry("RD", amount, value_date, disbursement_id, reference, reversal + reason_lines),
    ]


def _entry(mark, amount, value_date, disbursement_id, reference, narrative) -> Entry:
    if not disbursement_id or "//" in disbursement_id or "\n" in disbursement_id:
        raise StatementError(f"disbursement id {disbursement_id!r} cannot be a customer reference")
    if len(disbursement_id) > REFERENCE:
        # Longer than the field: the full id travels in the narrative (retrieve_disbursement_id).
        narrative = [*narrative, DISBURSEMENT + disbursement_id]
    reference = re.sub(r"[^A-Za-z0-9]", "", reference or "")[:REFERENCE]
    if not reference:
        raise StatementError("a bank reference is required")
    return Entry(mark, Decimal(amount), value_date, disbursement_id, reference, tuple(narrative))


def write(
    *,
    reference: str,
    account_number: str,
    currency: str,
    statement_number: int,
    opening_balance: Decimal,
    opening_date: date,
    entries: Sequence[Entry],
    closing_date: date | None = None,
) -> str:
    """The statement's text, one field per line (``\\n``: the bridge splits :86: on it)."""
    if not re.fullmatch(r"[A-Za-z0-9/\-.]{1,16}", reference or ""):
        raise StatementError(f":20: reference {reference!r} must be 1-16 letters, digits, / - .")
    if not account_number or len(account_number) > 35:
        raise StatementError(":25: account number must be 1-35 characters")
    balance = Decimal(opening_balance)
    lines = [
        f":20:{reference}",
        f":25:{account_number}",
        f":28C:{int(statement_number)}/1",
        f":60F:{_balance(balance, opening_date, currency)}",
    ]
    for entry in entries:
        if entry.mark == "D":
            balance -= entry.amount
        elif entry.mark == "RD":
            balance += entry.amount
        else:
            raise StatementError(f"unknown mark {entry.mark!r}")
        day = entry.value_date
        lines.append(
            f":61:{day:%y%m%d}{day:%m%d}{entry.mark}{amount_text(entry.amount)}NTRF"
            f"{entry.disbursement_id[:REFERENCE]}//{entry.bank_reference}"
        )
        narrative = [_clean(text)[:LINE] for text in entry.narrative][:MAX_NARRATIVE_LINES] or [PAYMENT]
        lines.append(":86:" + narrative[0])
        lines.extend(narrative[1:])
    lines.append(f":62F:{_balance(balance, closing_date or opening_date, currency)}")
    return "\n".join(lines) + "\n"


def _balance(amount: Decimal, day: date, currency: str) -> str:
    mark = "C" if amount >= 0 else "D"
    return f"{mark}{day:%y%m%d}{currency}{amount_text(abs(amount))}"


# ---------------------------------------------------------------------- reading back (the bridge's
# connector methods): ``narratives`` is the :86: text split into lines, as 1.1.0 passes it.
def _lines(narratives) -> list[str]:
    if narratives is None:
        return []
    if isinstance(narratives, str):
        return narratives.splitlines()
    return [str(line) for line in narratives]


def disbursement_id(bank_reference: str, customer_reference: str, narratives: Iterable[str] | None) -> str:
    for line in _lines(narratives):
        if line.startswith(DISBURSEMENT):
            return line[len(DISBURSEMENT) :].strip()
    return (customer_reference or "").strip()


def beneficiary_name(narratives) -> str | None:
    for line in _lines(narratives):
        if line.startswith(NAME):
            return line[len(NAME) :].strip() or None
    return None


def reversal_reason(narratives) -> str | None:
    lines = _lines(narratives)
    for index, line in enumerate(lines):
        if line.startswith(REASON):
            rest = [line[len(REASON) :]] + [
                text for text in lines[index + 1 :] if not text.startswith(DISBURSEMENT)
            ]
            return " ".join(part.strip() for part in rest if part.strip()) or None
    return None
