"""M-Pesa markets as data: country, currency, number plan, limits, ID types, API family and its
hosts and paths, USSD code, and the source of each fact.

No Odoo import: part of the wire package (``mpesa_wire.markets``). A fact public material does not settle is a
market setting holding the documented value, and ``sources`` says so; the manager's own limits
start from the market's and can be changed.
"""

from dataclasses import dataclass, field
from types import MappingProxyType

from .numbers import KENYA as _KENYA_PLAN
from .numbers import NumberPlan


@dataclass(frozen=True)
class Market:
    code: str
    name: str
    operator: str
    currency: str
    minor_units: int  # of the currency (ISO 4217)
    whole_units_only: bool  # the API pays whole units only: a fraction is refused, never rounded
    number_plan: NumberPlan
    min_amount: int  # per transaction, in whole units
    max_amount: int
    daily_limit: int | None  # per recipient, where published
    wallet_cap: int | None
    id_types: tuple[tuple[str, str], ...]  # (code sent to M-Pesa, name) a validated payment accepts
    api_family: str
    base_urls: MappingProxyType  # environment -> base URL
    api_paths: MappingProxyType  # the API family's settings for this market (paths, versions)
    ussd: str
    sources: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    # Other API families this market's M-Pesa can be paid through (the admin picks one on the
    # manager): family name -> {"base_urls": {...}, "api_paths": {...}}.
    other_families: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    @property
    def api_families(self) -> tuple[str, ...]:
        """The families this market can be paid through, its default first."""
        return (self.api_family, *self.other_families)

    def family_name(self, family: str | None = None) -> str:
        """``family`` if this market offers it (KeyError otherwise); the default family for None."""
        family = family or self.api_family
        if family not in self.api_families:
            offered = ", ".join(self.api_families)
            raise KeyError(f"M-Pesa {self.name} is not paid through {family!r}; it offers {offered}")
        return family

    def base_urls_for(self, family: str | None = None) -> MappingProxyType:
        family = self.family_name(family)
        return self.base_urls if family == self.api_family else self.other_families[family]["base_urls"]

    def api_paths_for(self, family: str | None = None) -> MappingProxyType:
        family = self.family_name(family)
        return self.api_paths if family == self.api_family else self.other_families[family]["api_paths"]


KENYA = Market(
    code="KE",
    name="Kenya",
    operator="Safaricom",
    currency="KES",
    minor_units=2,
    whole_units_only=True,
    number_plan=_KENYA_PLAN,
    min_amount=10,
    max_amount=250_000,
    daily_limit=500_000,
    wallet_cap=500_000,
    id_types=(
        ("01", "National ID"),
        ("02", "Military ID"),
        ("03", "Alien ID"),
        ("04", "Diplomatic ID"),
        ("05", "Passport"),
    ),  # fmt: skip
    api_family="daraja",
    base_urls=MappingProxyType(
        {"sandbox": "https://sandbox.safaricom.co.ke", "production": "https://api.safaricom.co.ke"}
    ),
    api_paths=MappingProxyType({}),  # the Daraja client's defaults are Kenya's
    ussd="*334#",
    sources=MappingProxyType(
        {
            "everything": "shared/reference/daraja.md (Safaricom's Daraja portal pages, SDKs, captured "
            "payloads): hosts, paths, whole shillings, limits 10..250,000 (older documents 150,000), "
            "wallet cap and daily total 500,000, validated-B2C ID types 01..05",
        }
    ),
)

ETHIOPIA = Market(
    code="ET",
    name="Ethiopia",
    operator="Safaricom Ethiopia",
    currency="ETB",
    minor_units=2,
    # SDKs disagree on decimals (docs/markets/ethiopia.md section 6): whole birr is the safe choice.
    whole_units_only=True,
    # Safaricom Ethiopia's numbers are 07 (Ethio telecom's 09 are not M-Pesa's).
    number_plan=NumberPlan(251, "ET", "Ethiopian", "Ethiopia", prefixes=("7",)),
    # No per-transaction limit of Safaricom Ethiopia's is public: the minimum is one birr and the
    # maximum the regulator's 2025 Level 2 wallet balance (a setting on the manager).
    min_amount=1,
    max_amount=150_000,
    daily_limit=300_000,
    wallet_cap=150_000,
    id_types=(),  # no ID-validated B2C found for Ethiopia
    api_family="daraja",
    base_urls=MappingProxyType(
        {"sandbox": "https://apisandbox.safaricom.et", "production": "https://api.safaricom.et"}
    ),
    api_paths=MappingProxyType(
        {
            "token_path": "/v1/token/generate",
            "b2c_path": "/mpesa/b2c/v2/paymentrequest",
            "status_path": "/mpesa/transactionstatus/v1/query",
            "balance_path": "/mpesa/accountbalance/v2/query",
            "reversal_path": "/mpesa/reversal/v2/request",
            "b2c_validated_path": "",
        }
    ),
    ussd="*733#",
    sources=MappingProxyType(
        {
            "hosts, token path": "docs/markets/ethiopia.md 1 [firm]: public SDKs and production code",
            "B2C v2 path and fields": "docs/markets/ethiopia.md 2 [firm]",
            "status v1, balance v2, reversal v2": "docs/markets/ethiopia.md 3 [firm]/[likely]",
            "whole birr": "docs/markets/ethiopia.md 6 [weak]: SDKs disagree; the safe choice",
            "07 numbers": "docs/markets/ethiopia.md 6 [firm]; which 07x ranges: not found",
            "wallet cap 150,000, daily 300,000": "docs/markets/ethiopia.md 6 [likely]: NBE ONPS/10/2025",
            "per-transaction limits": "not found: minimum 1, maximum the wallet cap (settings)",
            "result codes": "not found for Ethiopia: Kenya's (docs/markets/ethiopia.md 5)",
            "USSD *733#": "docs/markets/ethiopia.md 6 [firm]",
        }
    ),
)


def _vodacom(code, name, operator, currency, plan, context, country, max_amount, ussd, sources, **extra):
    """A market of Vodacom's M-Pesa OpenAPI: one protocol, the market in the URL path."""
    paths = {"market_context": context, "country": country, **extra.pop("api_paths", {})}
    return Market(
        code=code,
        name=name,
        operator=operator,
        currency=currency,
        minor_units=2,
        whole_units_only=True,
        number_plan=plan,
        min_amount=1,
        max_amount=max_amount,
        daily_limit=extra.pop("daily_limit", None),
        wallet_cap=None,
        id_types=(),  # the OpenAPI has no ID-validated B2C
        api_family="openapi",
        base_urls=MappingProxyType(
            {"sandbox": "https://openapi.m-pesa.com", "production": "https://openapi.m-pesa.com"}
        ),
        api_paths=MappingProxyType(paths),
        ussd=ussd,
        other_families=MappingProxyType(extra.pop("other_families", {})),
        sources=MappingProxyType(
            {
                "host, paths, session, B2C, query, reversal, INS codes": "docs/markets/vodacom-openapi.md "
                "1-6 [H]: the OpenAPI portal's pages",
                "URL context, input_Country, currency": "docs/markets/vodacom-openapi.md 7 [H]: the portal's "
                "market table",
                "limits": "docs/markets/vodacom-openapi.md 7: set per application (INS-990..995); no "
                "national per-transaction cap found: minimum 1, the maximum a manager setting",
                **sources,
            }
        ),
    )


TANZANIA = _vodacom(
    "TZ",
    "Tanzania",
    "Vodacom Tanzania",
    "TZS",
    NumberPlan(255, "TZ", "Tanzanian", "Tanzania", prefixes=("74", "75", "76", "79")),
    "vodacomTZN",
    "TZN",
    5_000_000,
    "*150*00#",
    {
        "Vodacom 74, 75, 76, 79": "docs/markets/vodacom-openapi.md 7 [H]: libphonenumber carrier file 255",
        "USSD *150*00#": "docs/markets/vodacom-openapi.md 7 [H]: vodacom.co.tz",
        "maximum 5,000,000": "a setting: the tariff table runs to 'Over Tsh 3,000,000'",
    },
)

DR_CONGO = _vodacom(
    "CD",
    "DR Congo",
    "Vodacom Congo",
    "USD",
    NumberPlan(243, "CD", "Congolese", "DR Congo", prefixes=("81", "82", "83")),
    "vodacomDRC",
    "DRC",
    2_500,
    "*1222#",
    {
        "USD": "docs/markets/vodacom-openapi.md 7 [H]: the portal's market table; CDF [L] only in third "
        "parties (not offered)",
        "Vodacom 81, 82, 83": "docs/markets/vodacom-openapi.md 7: 81, 82 [H] libphonenumber; 83 [L]",
        "USSD *1222#": "NOT FOUND: unverified (docs/markets/vodacom-openapi.md 7)",
        "maximum 2,500": "a setting (no public cap)",
    },
)

LESOTHO = _vodacom(
    "LS",
    "Lesotho",
    "Vodacom Lesotho",
    "LSL",
    NumberPlan(266, "LS", "Basotho", "Lesotho", national_length=8, prefixes=("5",)),
    "vodacomLES",
    "LES",
    50_000,
    "*111#",
    {
        "Vodacom 5x, 8-digit numbers": "docs/markets/vodacom-openapi.md 7 [H]: libphonenumber 266",
        "11-digit MSISDN (the portal's regex wants 12-14)": "docs/markets/vodacom-openapi.md 3 [M]: "
        "a setting",
        "USSD *111#": "docs/markets/vodacom-openapi.md 7 [H]: vodacom.co.ls",
        "maximum 50,000": "a setting (no public cap)",
    },
    api_paths={"msisdn_pattern": "[0-9]{11,14}"},
)

GHANA = _vodacom(
    "GH",
    "Ghana",
    "Telecel Ghana (formerly Vodafone)",
    "GHS",
    NumberPlan(233, "GH", "Ghanaian", "Ghana", prefixes=("20", "50")),
    "vodafoneGHA",
    "GHA",
    15_000,
    "*110#",
    {
        "Vodafone/Telecel 20, 50": "docs/markets/vodacom-openapi.md 7 [H]: libphonenumber 233",
        "USSD *110#": "docs/markets/vodacom-openapi.md 7 [M]",
        "maximum 15,000, daily 15,000": "docs/markets/vodacom-openapi.md 7 [M]: BoG tiers (233prime.com)",
    },
    daily_limit=15_000,
)

MOZAMBIQUE = _vodacom(
    "MZ",
    "Mozambique",
    "Vodacom Mozambique",
    "MZN",
    NumberPlan(258, "MZ", "Mozambican", "Mozambique", prefixes=("84", "85")),
    "vodacomMOZ",
    "MOZ",
    125_000,
    "*150#",
    {
        "through the OpenAPI": "docs/markets/vodacom-openapi.md 7 [H]: vodacomMOZ / MOZ / MZN in the "
        "portal's market table; Vodacom Mozambique's own API (vm.co.mz): section 8, not built",
        "Vodacom 84, 85": "docs/markets/vodacom-openapi.md 7: 84 [H] libphonenumber, 85 [M] three clients",
        "USSD *150#": "NOT FOUND: unverified",
        "maximum 125,000": "a setting (no public cap)",
        "Vodacom Mozambique's own API (vodacom_mz)": "docs/markets/vodacom-openapi.md 8: sandbox host "
        "[H], live host disputed (a setting: paymentsds' api.mpesa.vm.co.mz), one port per operation "
        "[H], the reversal amount field disputed (a setting: input_ReversalAmount)",
    },
    other_families={
        "vodacom_mz": MappingProxyType(
            {
                "base_urls": MappingProxyType(
                    {"sandbox": "https://api.sandbox.vm.co.mz", "production": "https://api.mpesa.vm.co.mz"}
                ),
                "api_paths": MappingProxyType({}),  # the ports and paths are the family's defaults
            }
        ),
    },
)

MARKETS = MappingProxyType(
    {market.code: market for market in (KENYA, ETHIOPIA, TANZANIA, DR_CONGO, LESOTHO, GHANA, MOZAMBIQUE)}
)
DEFAULT = KENYA.code


def market(code):
    """The market of this code; KeyError names the known ones."""
    try:
        return MARKETS[code or DEFAULT]
    except KeyError:
        raise KeyError(f"unknown M-Pesa market {code!r}; known: {', '.join(MARKETS)}") from None
