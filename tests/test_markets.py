"""Markets are data: each one's number plan, currency, limits and API settings, and Kenya's as
before."""

import base64

import pytest
from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import mpesa_wire as wire
from mpesa_wire import InvalidMsisdn, markets, normalise_msisdn
from mpesa_wire.numbers import KENYA, msisdn_matches

ET = markets.ETHIOPIA.number_plan


def test_kenya_is_the_default_and_its_plan_is_the_wire_codes():
    assert markets.market(None) is markets.KENYA
    assert markets.KENYA.number_plan is KENYA
    assert normalise_msisdn("0712 345-678", markets.KENYA.number_plan) == "254712345678"
    with pytest.raises(KeyError, match="known: KE, ET, TZ, CD, LS, GH, MZ"):
        markets.market("XX")


@pytest.mark.parametrize(
    "raw, expected",
    [("0712345678", "251712345678"), ("+251 700 404 709", "251700404709"), ("712345678", "251712345678")],
)
def test_ethiopian_m_pesa_numbers_are_safaricom_ethiopias(raw, expected):
    assert normalise_msisdn(raw, ET) == expected


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("0911234567", "not_mpesa"),  # Ethio telecom
        ("0111234567", "not_mobile"),  # Addis Ababa landline
        ("+254712345678", "not_ethiopian"),
        ("07123456", "too_short"),
    ],
)
def test_numbers_ethiopian_m_pesa_cannot_pay_are_refused_with_the_reason(raw, reason):
    with pytest.raises(InvalidMsisdn) as info:
        normalise_msisdn(raw, ET)
    assert info.value.code == reason


def test_masked_numbers_are_read_in_the_markets_plan():
    assert msisdn_matches("0712***678", "251712345678", ET)
    assert not msisdn_matches("0712***678", "254712345678", ET)


def _public_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024, backend=default_backend())
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


SETTINGS = {
    "daraja": {
        "consumer_key": "k", "consumer_secret": "s", "shortcode": "600000", "initiator_name": "i",
        "initiator_password": "p", "certificate": base64.b64encode(b"pem"),
    },
    "openapi": {"api_key": "k", "public_key": _public_key(), "shortcode": "000000"},
}  # fmt: skip


@pytest.mark.parametrize("market", list(markets.MARKETS.values()), ids=list(markets.MARKETS))
def test_each_market_configures_its_api_family_and_says_where_its_facts_come_from(market):
    family = wire.for_market(market)
    assert family.name == market.api_family
    settings = {
        **SETTINGS[family.name],
        "base_url": market.base_urls["sandbox"],
        "min_amount": market.min_amount,
        "max_amount": market.max_amount,
    }
    assert set(family.required_settings) <= set(settings)
    config = family.config(settings, market)
    for name, value in market.api_paths.items():
        if hasattr(config, name):
            assert getattr(config, name) == value
    assert config.number_plan is market.number_plan
    assert config.base_url.startswith("https://")
    assert 0 < market.min_amount <= market.max_amount
    assert market.currency and market.ussd.startswith("*") and market.sources


def test_ethiopia_is_daraja_with_its_own_routes():
    paths = markets.ETHIOPIA.api_paths
    assert paths["token_path"] == "/v1/token/generate"
    assert paths["b2c_path"] == "/mpesa/b2c/v2/paymentrequest"
    assert markets.ETHIOPIA.base_urls["production"] == "https://api.safaricom.et"


@pytest.mark.parametrize(
    "code, raw, expected",
    [
        ("TZ", "0741 234 567", "255741234567"),
        ("TZ", "+255 791 234 567", "255791234567"),
        ("CD", "0811234567", "243811234567"),
        ("CD", "+243 83 123 4567", "243831234567"),
        ("LS", "5812 3456", "26658123456"),  # Lesotho: 8-digit numbers, no trunk 0
        ("LS", "+26650123456", "26650123456"),
        ("GH", "020 123 4567", "233201234567"),
        ("GH", "0501234567", "233501234567"),
        ("MZ", "84 123 4567", "258841234567"),
        ("MZ", "+258 85 123 4567", "258851234567"),
    ],
)
def test_vodacom_markets_pay_vodacoms_numbers(code, raw, expected):
    market = markets.market(code)
    assert market.api_family == "openapi"
    assert normalise_msisdn(raw, market.number_plan) == expected


@pytest.mark.parametrize(
    "code, raw, reason",
    [
        ("TZ", "0712345678", "not_mpesa"),  # Yas (Tigo) Tanzania
        ("TZ", "0681234567", "not_mpesa"),  # Airtel Tanzania
        ("CD", "0991234567", "not_mpesa"),  # Airtel Congo
        ("LS", "62123456", "not_mpesa"),  # Econet Lesotho
        ("GH", "0241234567", "not_mpesa"),  # MTN Ghana
        ("GH", "+254712345678", "not_ghanaian"),
        ("MZ", "821234567", "not_mpesa"),  # mCel/Tmcel
    ],
)
def test_other_networks_numbers_are_refused_in_vodacom_markets(code, raw, reason):
    with pytest.raises(InvalidMsisdn) as info:
        normalise_msisdn(raw, markets.market(code).number_plan)
    assert info.value.code == reason


def test_the_openapi_markets_carry_the_portals_market_table():
    vodacom = [m for m in markets.MARKETS.values() if m.api_family == "openapi"]
    table = {m.code: (m.api_paths["market_context"], m.api_paths["country"], m.currency) for m in vodacom}
    assert table == {
        "TZ": ("vodacomTZN", "TZN", "TZS"),
        "CD": ("vodacomDRC", "DRC", "USD"),
        "LS": ("vodacomLES", "LES", "LSL"),
        "GH": ("vodafoneGHA", "GHA", "GHS"),
        "MZ": ("vodacomMOZ", "MOZ", "MZN"),
    }
    assert all(not m.id_types for m in vodacom)
