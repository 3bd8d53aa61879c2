"""Identifiers and timestamps in M-Pesa's own formats (Kenyan time, UTC+3)."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

KENYA = dt.timezone(dt.timedelta(hours=3), "EAT")
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_DAYS = "123456789ABCDEFGHIJKLMNOPQRSTUV"  # day 1..31


def now() -> dt.datetime:
    return dt.datetime.now(KENYA)


def iso(moment: dt.datetime | None = None) -> str:
    return (moment or now()).isoformat(timespec="milliseconds")


def receipt_prefix(moment: dt.datetime) -> str:
    # S=2024, T=2025, U=2026 ...: the letters advance one per year from A=2006.
    year_letter = chr(ord("A") + (moment.year - 2006) % 26)
    return year_letter + chr(ord("A") + moment.month - 1) + _DAYS[moment.day - 1]


def new_receipt(moment: dt.datetime | None = None) -> str:
    """A receipt like UKR7Q2M9ZX; callers rely on the UNIQUE index and retry on a collision."""
    moment = moment or now()
    return receipt_prefix(moment) + "".join(secrets.choice(_ALNUM) for _ in range(7))


def placeholder_transaction_id(moment: dt.datetime | None = None) -> str:
    """What M-Pesa puts in TransactionID when nothing was paid: a receipt prefix and zeros."""
    return receipt_prefix(moment or now()) + "0000000"


def new_conversation_id(moment: dt.datetime | None = None) -> str:
    return "AG_%s_%s" % ((moment or now()).strftime("%Y%m%d"), secrets.token_hex(10))


def new_request_id() -> str:
    # The shape of Daraja's requestId in error bodies (e.g. 3c9e-4a7d-81f2-5b6e0d2c9a1f7730215).
    h = uuid.uuid4().hex
    return "%s-%s-%s-%s%07d" % (h[:4], h[4:8], h[8:12], h[12:24], secrets.randbelow(10**7))


def new_originator_conversation_id() -> str:
    """What the legacy v1 API generates itself (the caller has no say in it)."""
    return "%05d-%08d-1" % (secrets.randbelow(10**5), secrets.randbelow(10**8))


def completed_datetime(moment: dt.datetime) -> str:
    """TransactionCompletedDateTime: dd.MM.yyyy HH:mm:ss."""
    return moment.strftime("%d.%m.%Y %H:%M:%S")


def compact_datetime(moment: dt.datetime) -> int:
    """FinalisedTime / BOCompletedTime: yyyyMMddHHmmss as a number."""
    return int(moment.strftime("%Y%m%d%H%M%S"))


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def shillings(cents: int) -> str:
    """Ksh1,500.00 style used in SMS and USSD screens."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return "%s%s.%02d" % (sign, f"{cents // 100:,}", cents % 100)


def amount_value(cents: int) -> int | float:
    """A JSON number like Safaricom's: 500 for whole amounts, 1499500.5 otherwise."""
    return cents // 100 if cents % 100 == 0 else cents / 100
