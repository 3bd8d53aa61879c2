"""What M-Pesa would refuse for our own mistake, checked before a payment's request exists.

A refused payment never reaches M-Pesa: it fails up front with a reason a person can read, and is
reported to the bridge as a debit and its reversal (MT940 D + RD) carrying that reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from mpesa_wire import InvalidAmount, InvalidMsisdn, normalise_msisdn, to_whole_units

from .settings import BankSettings

MOBILE_WALLET = "MOBILE_WALLET"


class Refusal(ValueError):
    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Checked:
    msisdn: str
    units: int  # whole units of the market's currency


def amount_of(value) -> Decimal:
    """The payload's float amount as the decimal it was written as (``Decimal(str(x))``: 1500.1
    stays 1500.1, never 1500.0999999999999)."""
    if isinstance(value, bool) or value is None:
        raise Refusal("PREFLIGHT_AMOUNT", f"Amount {value!r} is not a number")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise Refusal("PREFLIGHT_AMOUNT", f"Amount {value!r} is not a number") from None


def check_payment(
    bank: BankSettings,
    *,
    amount,
    currency: str | None,
    phone: str | None,
    account_type: str | None = None,
    wallet_provider: str | None = None,
) -> Checked:
    """(number, whole amount) M-Pesa would accept for this bank's market, or :class:`Refusal`."""
    market = bank.market_data
    if currency and currency.upper() != market.currency:
        raise Refusal(
            "PREFLIGHT_CURRENCY",
            f"M-Pesa {market.name} pays in {market.currency}; this payment is in {currency}",
        )
    kind = getattr(account_type, "value", account_type)
    if kind and str(kind).upper() != MOBILE_WALLET:
        raise Refusal(
            "PREFLIGHT_ACCOUNT_TYPE",
            f"M-Pesa pays mobile wallets; the beneficiary's financial address is a {kind}",
        )
    if bank.wallet_providers and (wallet_provider or "").upper() not in {
        p.upper() for p in bank.wallet_providers
    }:
        raise Refusal(
            "PREFLIGHT_WALLET_PROVIDER",
            f"the beneficiary's wallet provider {wallet_provider!r} is not M-Pesa "
            f"({', '.join(bank.wallet_providers)})",
        )
    low, high = bank.limits
    try:
        units = to_whole_units(amount_of(amount), min_amount=low, max_amount=high, currency=market.currency)
    except InvalidAmount as exc:
        raise Refusal("PREFLIGHT_AMOUNT", str(exc)) from None
    if not phone:
        raise Refusal("PREFLIGHT_MSISDN", "the beneficiary has no mobile number (mapper resolution)")
    try:
        msisdn = normalise_msisdn(phone, market.number_plan)
    except InvalidMsisdn as exc:
        raise Refusal("PREFLIGHT_MSISDN", str(exc)) from None
    return Checked(msisdn=msisdn, units=units)
