"""The markets the simulator can be, on the same ledger engine: Kenya (the default) and Ethiopia
(Safaricom's Daraja), Tanzania, DR Congo, Lesotho, Ghana and Mozambique (Vodacom's M-Pesa OpenAPI;
Mozambique also Vodacom Mozambique's own API).

A market is data: API family, country, currency, number plan, limits, API paths, token error
shape, USSD code and menu languages, demo organisation and wallets. One simulator process serves
one market (``mpesa-sim serve --market ET``); the market is stored in the database at its first
start, a restart keeps it, and a database made for one market refuses to start as another.

The process's market is set once by ``Simulator`` (``activate``); the small pure helpers (number
normalisation, SMS and USSD wording, balance strings) read it with ``current()`` so that no call
site needs another argument. Kenya is active until a simulator says otherwise.

Ethiopian facts come from docs/markets/ethiopia.md with its confidence marks, the OpenAPI markets'
from docs/markets/vodacom-openapi.md; where that research found nothing (per-transaction limits,
result codes, SMS wording, receipt format, ID number format) the value here is the simulator's
own choice and ``notes`` says so.
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
    api_family: str = "daraja"  # "daraja" (Safaricom) or "openapi" (Vodacom's M-Pesa OpenAPI)
    national_length: int = 9  # digits of a national number after the country code
    # OpenAPI markets: context (the URL's market part), country (input_Country), msisdn (the
    # input_CustomerMSISDN pattern). Empty for Daraja markets.
    openapi: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

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
            "api_family": self.api_family,
            "national_length": self.national_length,
            **({"openapi": dict(self.openapi)} if self.openapi else {}),
        }

    @property
    def is_openapi(self) -> bool:
        return self.api_family == "openapi"


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

# -- Vodacom's M-Pesa OpenAPI markets (docs/markets/vodacom-openapi.md) ---------------------------
OPENAPI_SANDBOX_PREFIX = "/sandbox/ipg/v2"
OPENAPI_PRODUCTION_PREFIX = "/openapi/ipg/v2"
OPENAPI_PREFIXES = (OPENAPI_SANDBOX_PREFIX, OPENAPI_PRODUCTION_PREFIX)
# role -> the API's name in the URL (vodacom-openapi.md 1, PORTAL endpoint tables [H])
OPENAPI_APIS = MappingProxyType(
    {
        "session": "getSession",
        "b2c": "b2cPayment",
        "status": "queryTransactionStatus",
        "reversal": "reversal",
    }
)

_OPENAPI_NOTES = {
    "API": "Vodacom M-Pesa OpenAPI (vodacom-openapi.md 1-6 [H]): GET getSession/, POST b2cPayment/, GET"
    " queryTransactionStatus/ (query parameters), PUT reversal/; sandbox and production prefixes both served",
    "session": "activation delay (docs: up to 30 s [H]) and lifetime are config settings"
    " (openapi_session_delay_seconds, openapi_session_lifetime_seconds); the answer to an unknown,"
    " not-yet-live or expired session is NOT documented: HTTP 401 INS-6 Transaction Failed is the"
    " simulator's choice (config openapi_invalid_session_status/_code/_desc)",
    "sync or async": "per application in the real portal (NOT FOUND which); here config openapi_b2c_mode"
    " (sync|async) and openapi_callback_url (the application's Response URL)",
    "limits": "no per-transaction cap is public (vodacom-openapi.md 7): minimum, maximum, recipient daily"
    " limit and balance cap are the simulator's choice; breaching the recipient's daily limit or balance"
    " cap is INS-990 (Customer Transaction Value Limit Breached)",
    "inactive account": "the OpenAPI tables have no inactive-account code: a frozen (or unregistered)"
    " customer is HTTP 400 INS-2051 MSISDN invalid. (the simulator's choice)",
    "duplicates": "what INS-10 compares is NOT FOUND: here any input_ThirdPartyConversationID already"
    " received (B2C or reversal, whatever its outcome) is 409 INS-10",
    "SMS, receipts, ID numbers, times": "the simulator's choice: Kenya's SMS wording and 10-character"
    " receipts in the market's currency, times in EAT (UTC+3) as in every market of the simulator",
}


def _openapi_paths(context: str) -> MappingProxyType:
    return MappingProxyType(
        {role: f"{OPENAPI_SANDBOX_PREFIX}/{context}/{api}/" for role, api in OPENAPI_APIS.items()}
    )


def _openapi_market(
    *,
    context: str,
    country_input: str,
    msisdn_digits: tuple[int, int] = (12, 14),
    notes: dict,
    **fields,
) -> Market:
    low, high = msisdn_digits
    return Market(
        api_family="openapi",
        openapi=MappingProxyType(
            {
                "context": context,
                "country": country_input,
                "msisdn": f"^[0-9]{{{low},{high}}}$",
                "path_prefix": OPENAPI_SANDBOX_PREFIX,
                "path_prefixes": list(OPENAPI_PREFIXES),
            }
        ),
        api_paths=_openapi_paths(context),
        token_errors="openapi",
        invalid_token=(401, "INS-6", "Transaction Failed"),
        shortcode_digits=(4, 12),  # input_ServiceProviderCode ^([0-9A-Za-z]{4,12})$ [H]
        sms_promo="",
        notes=MappingProxyType({**_OPENAPI_NOTES, **notes}),
        **fields,
    )


def _wallets(country: str, people: list[tuple], unregistered: str, frozen: tuple[str, str]) -> tuple:
    """Demo wallets: (msisdn, first, last, id_number, balance or None) each, one unregistered line
    and one frozen account."""
    wallets = []
    for msisdn, first, last, id_number, balance in people:
        wallet = {
            "msisdn": msisdn,
            "first_name": first,
            "last_name": last,
            "id_number": id_number,
            "email": f"{first.lower()}.{country}@mpesa-sim.local",
        }
        if balance is not None:
            wallet["balance"] = balance
        wallets.append(wallet)
    wallets.append(
        {"msisdn": unregistered, "first_name": "Unregistered", "last_name": "Line", "registered": False}
    )
    wallets.append(
        {
            "msisdn": frozen[0],
            "first_name": "Frozen",
            "last_name": "Account",
            "id_number": frozen[1],
            "status": "frozen",
        }
    )
    return tuple(wallets)


TANZANIA = _openapi_market(
    code="TZ",
    country="Tanzania",
    operator="Vodacom Tanzania",
    currency="TZS",
    money="Tsh",
    country_code="255",
    # Vodacom: 74, 75, 76 and 79 (libphonenumber carrier file [H]); 6x and the other 7x are Yas/Tigo
    # and Airtel: read as Tanzanian, refused as not M-Pesa.
    mobile=re.compile(r"^2557[4569]\d{7}$"),
    local_lead_digits="67",
    number_plan="Vodacom Tanzania M-Pesa number (25574/75/76/79XXXXXXX)",
    example_msisdn="255754123456",
    context="vodacomTZN",
    country_input="TZN",
    limits=MappingProxyType(
        {
            "min_amount": 1,
            "max_amount": 5_000_000,
            "recipient_daily_limit": 10_000_000,
            "recipient_balance_cap": 20_000_000,
        }
    ),
    ussd_code="*150*00#",
    languages=(("en", "English"), ("sw", "Kiswahili")),
    help_line="Call 100",
    org=MappingProxyType({"shortcode": "000000", "org_name": "OpenG2P Demo Ministry Tanzania"}),
    # NIDA-style 20-digit ID numbers: the simulator's choice.
    demo_wallets=_wallets(
        "tz",
        [
            ("255754123456", "Neema", "Mwakyusa", "19900101123450000123", "1000"),
            ("255764000001", "Juma", "Mwinyi", "19850615234560000234", "0"),
            ("255744000002", "Rehema", "Kimaro", "19920303345670000345", "250"),
            ("255794000003", "Baraka", "Massawe", "19781120456780000456", None),
        ],
        "255759000004",
        ("255740000005", "19950505567890000567"),
    ),
    demo_tills=({"till_number": "123456", "name": "Kariakoo Grocers"},),
    notes={
        "USSD": "*150*00# (vodacom.co.tz [H]); menu in English and Kiswahili, its wording the simulator's",
        "prefixes": "Vodacom 74, 75, 76, 79 (libphonenumber; 72 is listed too but not taken here)",
        "help line": "'Call 100' is the simulator's choice",
    },
)

DR_CONGO = _openapi_market(
    code="CD",
    country="DR Congo",
    operator="Vodacom DR Congo",
    currency="USD",
    money="USD ",
    country_code="243",
    mobile=re.compile(r"^2438[123]\d{7}$"),
    local_lead_digits="89",  # 8x and 9x are Congolese mobiles; only Vodacom's 81-83 are M-Pesa
    number_plan="Vodacom DR Congo M-Pesa number (24381/82/83XXXXXXX)",
    example_msisdn="243812345678",
    context="vodacomDRC",
    country_input="DRC",
    limits=MappingProxyType(
        {
            "min_amount": 1,
            "max_amount": 5_000,
            "recipient_daily_limit": 10_000,
            "recipient_balance_cap": 20_000,
        }
    ),
    ussd_code="*1222#",
    languages=(("fr", "Français"),),
    help_line="Contact customer care",
    org=MappingProxyType({"shortcode": "000243", "org_name": "OpenG2P Demo Ministry DR Congo"}),
    demo_wallets=_wallets(
        "cd",
        [
            ("243812345678", "Esther", "Mukendi", "1234567890", "100"),
            ("243822000001", "Jean", "Ilunga", "2345678901", "0"),
            ("243832000002", "Nadine", "Kalala", "3456789012", "25"),
            ("243812000003", "Didier", "Tshibangu", "4567890123", None),
        ],
        "243829000004",
        ("243810000005", "5678901234"),
    ),
    demo_tills=({"till_number": "123456", "name": "Marche de la Liberte"},),
    notes={
        "currency": "USD (PORTAL market table [H]); CDF only in weak sources",
        "USSD": "NOT FOUND: *1222# is the simulator's choice (unverified memory); menu in French, the"
        " simulator's own wording (the real menus are not public)",
        "prefixes": "Vodacom 81, 82 (libphonenumber) and 83 (the brief; the stored carrier file lacks it)",
    },
)

LESOTHO = _openapi_market(
    code="LS",
    country="Lesotho",
    operator="Vodacom Lesotho",
    currency="LSL",
    money="LSL ",
    country_code="266",
    mobile=re.compile(r"^2665\d{7}$"),
    national_length=8,
    local_lead_digits="56",  # 5x Vodacom, 6x Econet (read as Lesotho's, refused as not M-Pesa)
    number_plan="Vodacom Lesotho M-Pesa number (2665XXXXXXX)",
    example_msisdn="26658123456",
    context="vodacomLES",
    country_input="LES",
    msisdn_digits=(11, 14),  # 266 + 8 digits = 11, which the documented ^[0-9]{12,14}$ refuses
    limits=MappingProxyType(
        {
            "min_amount": 1,
            "max_amount": 100_000,
            "recipient_daily_limit": 200_000,
            "recipient_balance_cap": 500_000,
        }
    ),
    ussd_code="*111#",
    languages=(("en", "English"),),
    help_line="Contact customer care",
    org=MappingProxyType({"shortcode": "000266", "org_name": "OpenG2P Demo Ministry Lesotho"}),
    demo_wallets=_wallets(
        "ls",
        [
            ("26658123456", "Palesa", "Mohapi", "012345678901", "1000"),
            ("26659000001", "Thabo", "Mofokeng", "023456789012", "0"),
            ("26657000002", "Lineo", "Letsie", "034567890123", "250"),
            ("26650000003", "Tumelo", "Ramakatane", "045678901234", None),
        ],
        "26659900004",
        ("26650000005", "056789012345"),
    ),
    demo_tills=({"till_number": "123456", "name": "Maseru Corner Cafe"},),
    notes={
        "USSD": "*111# option 4 M-Pesa (vodacom.co.ls FAQ [H]); the simulator's menu answers *111# directly,"
        " in English only (no Sesotho)",
        "numbers": "266 + 8 digits: input_CustomerMSISDN accepts 11 to 14 digits here ([M])",
    },
)

GHANA = _openapi_market(
    code="GH",
    country="Ghana",
    operator="Vodafone (Telecel) Ghana",
    currency="GHS",
    money="GHS ",
    country_code="233",
    mobile=re.compile(r"^233(20|50)\d{7}$"),
    local_lead_digits="25",  # 2x and 5x are Ghanaian mobiles; Vodafone/Telecel's are 20 and 50
    number_plan="Vodafone (Telecel) Ghana number (23320/50XXXXXXX)",
    example_msisdn="233201234567",
    context="vodafoneGHA",
    country_input="GHA",
    limits=MappingProxyType(
        {
            "min_amount": 1,
            "max_amount": 50_000,
            "recipient_daily_limit": 100_000,
            "recipient_balance_cap": 200_000,
        }
    ),
    ussd_code="*110#",
    languages=(("en", "English"),),
    help_line="Contact customer care",
    org=MappingProxyType({"shortcode": "000233", "org_name": "OpenG2P Demo Ministry Ghana"}),
    # Ghana Card style ID numbers: the simulator's choice.
    demo_wallets=_wallets(
        "gh",
        [
            ("233201234567", "Ama", "Mensah", "GHA-123456789-0", "1000"),
            ("233502000001", "Kwame", "Asante", "GHA-234567890-1", "0"),
            ("233202000002", "Abena", "Owusu", "GHA-345678901-2", "250"),
            ("233501000003", "Kofi", "Boateng", "GHA-456789012-3", None),
        ],
        "233209000004",
        ("233500000005", "GHA-567890123-4"),
    ),
    demo_tills=({"till_number": "123456", "name": "Makola Market Stall"},),
    notes={
        "USSD": "*110# ([M]); the wallet is Telecel Cash today, the simulator's menus still say M-PESA",
        "limits": "BoG KYC tiers cap daily amounts at GHS 2,000/10,000/15,000 ([M]); the limits here are"
        " the simulator's choice (maximum 50,000, daily 100,000, balance 200,000), not the tiers",
    },
)

MOZAMBIQUE = _openapi_market(
    code="MZ",
    country="Mozambique",
    operator="Vodacom Mozambique",
    currency="MZN",
    money="MZN ",
    country_code="258",
    mobile=re.compile(r"^2588[45]\d{7}$"),
    local_lead_digits="8",  # 82-87 are Mozambican mobiles; Vodacom's M-Pesa is 84 and 85
    number_plan="Vodacom Mozambique M-Pesa number (25884/85XXXXXXX)",
    example_msisdn="258841234567",
    context="vodacomMOZ",
    country_input="MOZ",
    limits=MappingProxyType(
        {
            "min_amount": 1,
            "max_amount": 125_000,
            "recipient_daily_limit": 250_000,
            "recipient_balance_cap": 500_000,
        }
    ),
    ussd_code="*150#",
    languages=(("pt", "Português"),),
    help_line="Contact customer care",
    org=MappingProxyType({"shortcode": "000258", "org_name": "OpenG2P Demo Ministry Mozambique"}),
    demo_wallets=_wallets(
        "mz",
        [
            ("258841234567", "Ana", "Machava", "110100000001A", "1000"),
            ("258852000001", "Carlos", "Mondlane", "110100000002B", "0"),
            ("258842000002", "Lurdes", "Nhantumbo", "110100000003C", "250"),
            ("258851000003", "Armando", "Cossa", "110100000004D", None),
        ],
        "258849000004",
        ("258840000005", "110100000005E"),
    ),
    demo_tills=({"till_number": "123456", "name": "Mercado Central"},),
    notes={
        "API": "Mozambique through the OpenAPI (vodacomMOZ, MOZ, MZN: the portal's market table [H]) and"
        " Vodacom Mozambique's own API (developer.mpesa.vm.co.mz, v1x: /ipg/v1x/ B2C, status, reversal; no"
        " session; one port per operation, served with serve --mz-ports) on the same ledger"
        " (vodacom-openapi.md 8 and 11)",
        "USSD": "NOT FOUND: *150# is the simulator's choice (unverified); menu in Portuguese, the"
        " simulator's own wording (the real menus are not public)",
        "prefixes": "Vodacom 84 (libphonenumber) and 85 (paymentsds, ivanruby, abdulmueid accept it)",
        "limits": "the simulator's choice",
    },
)

MARKETS = MappingProxyType(
    {m.code: m for m in (KENYA, ETHIOPIA, TANZANIA, DR_CONGO, LESOTHO, GHANA, MOZAMBIQUE)}
)
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
