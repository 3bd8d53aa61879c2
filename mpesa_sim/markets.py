"""The markets the simulator can be: Kenya (the default) and Ethiopia, on the same ledger engine.

A market is data: country, currency, number plan, limits, API paths, token error shape, USSD code
and menu languages, demo organisation and wallets. One simulator process serves one market
(``mpesa-sim serve --market ET``); the market is stored in the database at its first start, a
restart keeps it, and a database made for one market refuses to start as another.

The process's market is set once by ``Simulator`` (``activate``); the small pure helpers (number
normalisation, SMS and USSD wording, balance strings) read it with ``current()`` so that no call
site needs another argument. Kenya is active until a simulator says otherwise.

Ethiopian facts come from docs/markets/ethiopia.md with its confidence marks; where that research
found nothing (per-transaction limits, result codes, SMS wording, receipt format, ID number
format) the value here is the simulator's own choice and ``notes`` says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Market:
    code: str
    country: str
    operator: str
    currency: str
    money: str  # how SMS and USSD screens write an amount's currency: "Ksh1.00", "ETB 1.00"
    country_code: str
    mobile: re.Pattern  # an M-Pesa customer's MSISDN in this market
    local_lead_digits: str  # first digit of a 9-digit national number that is read as mobile
    number_plan: str  # for error messages and the pages
    example_msisdn: str
    shortcode_digits: tuple[int, int]
    limits: MappingProxyType  # min_amount, max_amount, recipient_daily_limit, recipient_balance_cap
    api_paths: MappingProxyType  # role -> path; only these Daraja routes are served
    token_errors: str  # "daraja" (Kenya's errorCode shape) or "resultcode" (Ethiopia's)
    invalid_token: tuple[int, str, str]  # HTTP status, errorCode, errorMessage for a bad Bearer token
    ussd_code: str
    languages: tuple[tuple[str, str], ...]  # (code, name) the USSD menu offers
    help_line: str  # appended to "frozen"/"locked" USSD screens
    sms_promo: str  # the tail of a B2C confirmation SMS
    org: MappingProxyType  # shortcode, org_name (the rest of the credentials are shared)
    demo_wallets: tuple
    demo_tills: tuple
    notes: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    def public(self) -> dict:
        """What the pages and ``/sim/market`` show: nothing secret."""
        return {
            "code": self.code,
            "country": self.country,
            "operator": self.operator,
            "currency": self.currency,
            "money": self.money,
            "country_code": self.country_code,
            "local_lead_digits": self.local_lead_digits,
            "number_plan": self.number_plan,
            "example_msisdn": self.example_msisdn,
            "ussd_code": self.ussd_code,
            "languages": [name for _code, name in self.languages],
            "limits": dict(self.limits),
            "api_paths": dict(self.api_paths),
            "notes": dict(self.notes),
        }


KENYA = Market(
    code="KE",
    country="Kenya",
    operator="Safaricom",
    currency="KES",
    money="Ksh",
    country_code="254",
    mobile=re.compile(r"^254(7\d{8}|1\d{8})$"),
    local_lead_digits="17",
    number_plan="Kenyan mobile number (2547XXXXXXXX/2541XXXXXXXX)",
    example_msisdn="254712345678",
    shortcode_digits=(5, 7),
    limits=MappingProxyType(
        {
            "min_amount": 10,
            "max_amount": 250_000,
            "recipient_daily_limit": 500_000,
            "recipient_balance_cap": 500_000,
        }
    ),
    api_paths=MappingProxyType(
        {
            "token": "/oauth/v1/generate",
            "b2c": "/mpesa/b2c/v3/paymentrequest",
            "b2c_v1": "/mpesa/b2c/v1/paymentrequest",
            "b2c_validate": "/mpesa/b2cvalidate/v2/paymentrequest",
            "reversal": "/mpesa/reversal/v1/request",
            "status": "/mpesa/transactionstatus/v1/query",
            "balance": "/mpesa/accountbalance/v1/query",
        }
    ),
    token_errors="daraja",
    invalid_token=(404, "404.001.03", "Invalid Access Token"),
    ussd_code="*334#",
    languages=(("en", "English"), ("sw", "Kiswahili")),
    help_line="Call 100",
    sms_promo=" Separate personal and business funds through Pochi la Biashara on *334#.",
    org=MappingProxyType({"shortcode": "600000", "org_name": "OpenG2P Demo Ministry"}),
    demo_wallets=(
        {
            "msisdn": "254712345678",
            "first_name": "Amina",
            "last_name": "Wanjiru",
            "id_number": "12345678",
            "balance": "1000",
            "email": "amina@mpesa-sim.local",
        },
        {
            "msisdn": "254722000001",
            "first_name": "Peter",
            "last_name": "Otieno",
            "id_number": "23456789",
            "balance": "0",
            "email": "peter@mpesa-sim.local",
        },
        {
            "msisdn": "254733000002",
            "first_name": "Grace",
            "last_name": "Achieng",
            "id_number": "34567890",
            "balance": "250",
            "email": "grace@mpesa-sim.local",
        },
        {
            "msisdn": "254110000003",
            "first_name": "John",
            "last_name": "Kamau",
            "id_type": "05",
            "id_number": "A1234567",
            "email": "john@mpesa-sim.local",
        },
        {"msisdn": "254799000004", "first_name": "Unregistered", "last_name": "Line", "registered": False},
        {
            "msisdn": "254700000005",
            "first_name": "Frozen",
            "last_name": "Account",
            "id_number": "56789012",
            "status": "frozen",
        },
    ),
    demo_tills=({"till_number": "123456", "name": "Mama Mboga Groceries"},),
)

ETHIOPIA = Market(
    code="ET",
    country="Ethiopia",
    operator="Safaricom Ethiopia",
    currency="ETB",
    money="ETB ",
    country_code="251",
    # Safaricom Ethiopia's numbers are 07; Ethio telecom's 09 are not M-Pesa customers.
    mobile=re.compile(r"^2517\d{8}$"),
    local_lead_digits="79",  # 09... is read as an Ethiopian number too, then refused as not M-Pesa
    number_plan="Safaricom Ethiopia mobile number (2517XXXXXXXX)",
    example_msisdn="251712345678",
    shortcode_digits=(4, 9),  # ethiopia.md 2: 4-digit shortcodes exist (\d{4,9} in an SDK)
    limits=MappingProxyType(
        {
            "min_amount": 1,
            # No Safaricom ET per-transaction maximum is public: the simulator's choice is the
            # NBE Level 2 wallet balance cap (a config setting, PUT /sim/admin/config).
            "max_amount": 150_000,
            "recipient_daily_limit": 300_000,
            "recipient_balance_cap": 150_000,
        }
    ),
    api_paths=MappingProxyType(
        {
            "token": "/v1/token/generate",
            "b2c": "/mpesa/b2c/v2/paymentrequest",
            "reversal": "/mpesa/reversal/v2/request",
            "status": "/mpesa/transactionstatus/v1/query",
            "balance": "/mpesa/accountbalance/v2/query",
        }
    ),
    token_errors="resultcode",
    invalid_token=(401, "401.002.01", "Invalid Access Token"),
    ussd_code="*733#",
    languages=(("en", "English"),),
    help_line="Contact customer care",
    sms_promo="",
    org=MappingProxyType({"shortcode": "610000", "org_name": "OpenG2P Demo Ministry Ethiopia"}),
    # Fayda-style 12-digit ID numbers: the simulator's choice (the FIN/FAN format was not checked).
    demo_wallets=(
        {
            "msisdn": "251712345678",
            "first_name": "Abebe",
            "last_name": "Kebede",
            "id_number": "412345678901",
            "balance": "1000",
            "email": "abebe@mpesa-sim.local",
        },
        {
            "msisdn": "251722000001",
            "first_name": "Tigist",
            "last_name": "Haile",
            "id_number": "523456789012",
            "balance": "0",
            "email": "tigist@mpesa-sim.local",
        },
        {
            "msisdn": "251733000002",
            "first_name": "Almaz",
            "last_name": "Tesfaye",
            "id_number": "634567890123",
            "balance": "250",
            "email": "almaz@mpesa-sim.local",
        },
        {
            "msisdn": "251711000003",
            "first_name": "Dawit",
            "last_name": "Bekele",
            "id_number": "745678901234",
            "email": "dawit@mpesa-sim.local",
        },
        {"msisdn": "251799000004", "first_name": "Unregistered", "last_name": "Line", "registered": False},
        {
            "msisdn": "251700000005",
            "first_name": "Frozen",
            "last_name": "Account",
            "id_number": "856789012345",
            "status": "frozen",
        },
    ),
    demo_tills=({"till_number": "123456", "name": "Merkato Coffee House"},),
    notes=MappingProxyType(
        {
            "paths, token": "docs/markets/ethiopia.md 1-3: token [firm], B2C v2 [firm], status v1 [firm],"
            " balance v2 and reversal v2 [likely]",
            "token errors": "ethiopia.md 1 [likely]: {resultCode, resultDesc} 999991/999996/999997/999998;"
            " HTTP 400/401 [weak]",
            "invalid access token": "ethiopia.md 1 [weak]: 401 401.002.01",
            "limits": "wallet cap 150,000 and daily 300,000: NBE ONPS/10/2025 Level 2 [likely]; per-"
            "transaction minimum 1 and maximum 150,000 are the simulator's choice (none published)",
            "result codes": "not found for Ethiopia: Kenya's G2 codes (ethiopia.md 5)",
            "amounts": "whole birr (ethiopia.md 6: SDKs disagree on decimals)",
            "USSD": "*733# [firm]; menu in English only (the simulator does not write Amharic)",
            "SMS, receipts, ID numbers": "the simulator's choice: Kenya's formats in birr; Fayda-style"
            " 12-digit demo ID numbers",
        }
    ),
)

MARKETS = MappingProxyType({m.code: m for m in (KENYA, ETHIOPIA)})
DEFAULT = KENYA.code

_current = KENYA


def get(code: str | None) -> Market:
    """The market of this code (case-insensitive); ValueError names the known ones."""
    try:
        return MARKETS[(code or DEFAULT).upper()]
    except KeyError:
        raise ValueError(f"unknown market {code!r}; known: {', '.join(MARKETS)}") from None


def activate(market: Market) -> None:
    global _current
    _current = market


def current() -> Market:
    return _current


class MarketMismatch(RuntimeError):
    """A database made for one market started as another."""
